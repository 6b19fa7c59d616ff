//! Tests of the request encoder.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::ids::encode_call_id;
use super::request::{encode_request, Options, SKIP_SIGNATURE};
use crate::adapter::AdapterError;
use crate::canonical::{
    ChatRequest, ContentPart, ImageSource, Message, ReasoningEffort, ResponseFormat, Role, Tool,
    ToolCall, ToolChoice,
};
use serde_json::{json, Value};

fn encode_for(req: &ChatRequest, model: &str, studio: bool) -> Result<Value, AdapterError> {
    let body = encode_request(
        req,
        &Options {
            model,
            send_call_ids: studio,
        },
    )?;
    Ok(serde_json::from_slice(&body).unwrap())
}

fn encode(req: &ChatRequest) -> Value {
    encode_for(req, "gemini-2.5-flash", true).unwrap()
}

fn user(text: &str) -> Message {
    Message::text(Role::User, text)
}

fn with_messages(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        model: "general".into(),
        messages,
        ..ChatRequest::default()
    }
}

fn call(id: &str, name: &str, args: &str) -> ToolCall {
    ToolCall {
        id: id.into(),
        name: name.into(),
        arguments: args.into(),
    }
}

fn assistant(content: Vec<ContentPart>, tool_calls: Vec<ToolCall>) -> Message {
    Message {
        content,
        tool_calls,
        ..Message::text(Role::Assistant, "")
    }
}

fn tool_result(id: &str, text: &str) -> Message {
    Message {
        tool_call_id: Some(id.into()),
        ..Message::text(Role::Tool, text)
    }
}

fn unsupported_param(e: AdapterError) -> String {
    match e {
        AdapterError::Unsupported { param, message } => {
            assert!(message.contains(&param), "{message}");
            param
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn system_and_developer_become_the_instruction() {
    let req = with_messages(vec![
        Message::text(Role::System, "Be terse."),
        user("hi"),
        Message::text(Role::Developer, "Answer in French."),
        Message::text(Role::System, ""),
    ]);
    let body = encode(&req);
    assert_eq!(
        body,
        json!({
            "systemInstruction": {"parts": [{"text": "Be terse."}, {"text": "Answer in French."}]},
            "contents": [{"role": "user", "parts": [{"text": "hi"}]}]
        })
    );
    // No instruction, no field; no parameters, no generationConfig.
    let body = encode(&with_messages(vec![user("hi")]));
    assert_eq!(
        body,
        json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
    );
}

#[test]
fn multi_turn_with_tool_calls_and_results() {
    let req = with_messages(vec![
        user("Weather and time in Paris?"),
        assistant(
            vec![ContentPart::Text {
                text: "Let me look.".into(),
            }],
            vec![
                call("call_1", "get_weather", r#"{"city":"Paris"}"#),
                call("call_2", "get_time", ""),
            ],
        ),
        tool_result("call_1", r#"{"temp": 18, "unit": "C"}"#),
        tool_result("call_2", "noon"),
        assistant(
            vec![ContentPart::Text {
                text: "18C at noon.".into(),
            }],
            vec![],
        ),
        user("Thanks"),
    ]);
    let body = encode(&req);
    assert_eq!(
        body["contents"],
        json!([
            {"role": "user", "parts": [{"text": "Weather and time in Paris?"}]},
            {"role": "model", "parts": [
                {"text": "Let me look."},
                {"functionCall": {"id": "call_1", "name": "get_weather", "args": {"city": "Paris"}}},
                {"functionCall": {"id": "call_2", "name": "get_time", "args": {}}}
            ]},
            {"role": "user", "parts": [
                {"functionResponse": {"id": "call_1", "name": "get_weather", "response": {"temp": 18, "unit": "C"}}},
                {"functionResponse": {"id": "call_2", "name": "get_time", "response": {"result": "noon"}}}
            ]},
            {"role": "model", "parts": [{"text": "18C at noon."}]},
            {"role": "user", "parts": [{"text": "Thanks"}]}
        ])
    );
    // Vertex v1 has no ids.
    let body = encode_for(&req, "gemini-2.5-flash", false).unwrap();
    assert_eq!(
        body["contents"][1]["parts"][1],
        json!({"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}})
    );
    assert_eq!(
        body["contents"][2]["parts"][1],
        json!({"functionResponse": {"name": "get_time", "response": {"result": "noon"}}})
    );
}

#[test]
fn tool_results_find_their_call() {
    // Ids repeat across turns: the nearest earlier call counts.
    let req = with_messages(vec![
        user("a"),
        assistant(vec![], vec![call("call_0", "first", "{}")]),
        tool_result("call_0", "1"),
        assistant(vec![], vec![call("call_0", "second", "{}")]),
        tool_result("call_0", "[1, 2]"),
    ]);
    let body = encode(&req);
    assert_eq!(
        body["contents"][2]["parts"][0]["functionResponse"]["name"],
        "first"
    );
    assert_eq!(
        body["contents"][4]["parts"][0]["functionResponse"],
        json!({"id": "call_0", "name": "second", "response": {"result": "[1, 2]"}})
    );
    // A client that dropped the signature suffix still finds the call.
    let signed = encode_call_id("call_9", Some("c2ln"));
    let req = with_messages(vec![
        user("a"),
        assistant(vec![], vec![call(&signed, "f", "{}")]),
        tool_result("call_9", "ok"),
    ]);
    assert_eq!(
        encode(&req)["contents"][2]["parts"][0]["functionResponse"]["name"],
        "f"
    );
    // An unknown id is refused, unless the message names the function.
    let mut req = with_messages(vec![user("a"), tool_result("nope", "ok")]);
    let e = encode_for(&req, "gemini-2.5-flash", true).unwrap_err();
    assert_eq!(unsupported_param(e), "messages[1].tool_call_id");
    req.messages[1].name = Some("legacy".into());
    assert_eq!(
        encode(&req)["contents"][1]["parts"][0]["functionResponse"]["name"],
        "legacy"
    );
}

#[test]
fn invalid_arguments_are_refused_by_name() {
    for args in ["{not json", "[1]", "\"s\""] {
        let req = with_messages(vec![
            user("a"),
            assistant(vec![], vec![call("c", "f", "{}"), call("d", "g", args)]),
        ]);
        let e = encode_for(&req, "gemini-2.5-flash", true).unwrap_err();
        assert_eq!(
            unsupported_param(e),
            "messages[1].tool_calls[1].function.arguments"
        );
    }
}

#[test]
fn images_audio_and_files() {
    let req = with_messages(vec![Message {
        content: vec![
            ContentPart::Text {
                text: "What is this?".into(),
            },
            ContentPart::Image {
                source: ImageSource::from_url("data:image/png;base64,iVBORw0KGgo="),
                detail: Some("low".into()),
            },
            ContentPart::Image {
                source: ImageSource::Url {
                    url: "https://example.com/cat.PNG?size=2".into(),
                },
                detail: None,
            },
            ContentPart::Image {
                source: ImageSource::Url {
                    url: "https://example.com/image".into(),
                },
                detail: None,
            },
            ContentPart::InputAudio {
                data: "UklGRg==".into(),
                format: "wav".into(),
            },
            ContentPart::File {
                data: Some("data:application/pdf;base64,JVBERi0=".into()),
                file_id: None,
                filename: Some("a.pdf".into()),
            },
            ContentPart::File {
                data: Some("JVBERi0=".into()),
                file_id: None,
                filename: None,
            },
            ContentPart::File {
                data: None,
                file_id: Some("https://generativelanguage.googleapis.com/v1beta/files/abc".into()),
                filename: Some("notes.txt".into()),
            },
        ],
        ..user("")
    }]);
    let body = encode(&req);
    assert_eq!(
        body["contents"][0]["parts"],
        json!([
            {"text": "What is this?"},
            {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
            {"fileData": {"mimeType": "image/png", "fileUri": "https://example.com/cat.PNG?size=2"}},
            {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/image"}},
            {"inlineData": {"mimeType": "audio/wav", "data": "UklGRg=="}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
            {"inlineData": {"mimeType": "application/pdf", "data": "JVBERi0="}},
            {"fileData": {"mimeType": "text/plain", "fileUri": "https://generativelanguage.googleapis.com/v1beta/files/abc"}}
        ])
    );
    // An OpenAI file id means nothing to Google.
    let mut req = with_messages(vec![Message {
        content: vec![ContentPart::File {
            data: None,
            file_id: Some("file-abc".into()),
            filename: None,
        }],
        ..user("")
    }]);
    let e = encode_for(&req, "gemini-2.5-flash", true).unwrap_err();
    assert_eq!(unsupported_param(e), "messages[0].content[0].file.file_id");
    req.drop_params = true;
    assert_eq!(encode(&req), json!({"contents": []}));
}

#[test]
fn tools_and_tool_choice() {
    let tools = vec![
        Tool {
            name: "get_weather".into(),
            description: Some("Weather by city".into()),
            parameters: Some(json!({
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": false
            })),
            strict: Some(true),
        },
        Tool {
            name: "now".into(),
            description: None,
            parameters: None,
            strict: None,
        },
    ];
    let mut req = ChatRequest {
        tools,
        parallel_tool_calls: Some(true),
        ..with_messages(vec![user("hi")])
    };
    let body = encode(&req);
    assert_eq!(
        body["tools"],
        json!([{"functionDeclarations": [
            {"name": "get_weather", "description": "Weather by city", "parametersJsonSchema": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
                "additionalProperties": false
            }},
            {"name": "now"}
        ]}])
    );
    assert!(body.get("toolConfig").is_none());
    for (choice, config) in [
        (ToolChoice::Auto, json!({"mode": "AUTO"})),
        (ToolChoice::None, json!({"mode": "NONE"})),
        (ToolChoice::Required, json!({"mode": "ANY"})),
        (
            ToolChoice::Function {
                name: "get_weather".into(),
            },
            json!({"mode": "ANY", "allowedFunctionNames": ["get_weather"]}),
        ),
    ] {
        req.tool_choice = Some(choice);
        assert_eq!(
            encode(&req)["toolConfig"],
            json!({"functionCallingConfig": config})
        );
    }
    // No tools, no tool config.
    let no_tools = ChatRequest {
        tool_choice: Some(ToolChoice::None),
        ..with_messages(vec![user("hi")])
    };
    assert!(encode(&no_tools).get("toolConfig").is_none());

    // One call at a time cannot be asked of Gemini.
    req.parallel_tool_calls = Some(false);
    let e = encode_for(&req, "gemini-2.5-flash", true).unwrap_err();
    assert_eq!(unsupported_param(e), "parallel_tool_calls");
    req.drop_params = true;
    assert!(encode_for(&req, "gemini-2.5-flash", true).is_ok());
}

#[test]
fn response_formats() {
    let mut req = with_messages(vec![user("hi")]);
    req.response_format = Some(ResponseFormat::JsonObject);
    assert_eq!(
        encode(&req)["generationConfig"],
        json!({"responseMimeType": "application/json"})
    );
    let schema =
        json!({"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]});
    req.response_format = Some(ResponseFormat::JsonSchema {
        name: "answer".into(),
        schema: Some(schema.clone()),
        strict: Some(true),
        description: None,
    });
    assert_eq!(
        encode(&req)["generationConfig"],
        json!({"responseMimeType": "application/json", "responseJsonSchema": schema})
    );
    req.response_format = Some(ResponseFormat::Text);
    assert!(encode(&req).get("generationConfig").is_none());
}

#[test]
fn sampling_parameters() {
    let mut req = ChatRequest {
        max_tokens: Some(256),
        temperature: Some(0.2),
        top_p: Some(0.9),
        stop: vec!["END".into(), "STOP".into()],
        seed: Some(7),
        n: Some(2),
        user: Some("u-1".into()),
        ..with_messages(vec![user("hi")])
    };
    req.extra.insert("top_k".into(), json!(40));
    req.extra.insert("presence_penalty".into(), json!(0.5));
    req.extra.insert("frequency_penalty".into(), json!(-0.25));
    assert_eq!(
        encode(&req)["generationConfig"],
        json!({
            "maxOutputTokens": 256,
            "temperature": 0.2,
            "topP": 0.9,
            "topK": 40,
            "stopSequences": ["END", "STOP"],
            "seed": 7,
            "candidateCount": 2,
            "presencePenalty": 0.5,
            "frequencyPenalty": -0.25
        })
    );
    req.extra.insert("top_k".into(), json!("many"));
    let e = encode_for(&req, "gemini-2.5-flash", true).unwrap_err();
    assert_eq!(unsupported_param(e), "top_k");
    req.extra.insert("top_k".into(), json!(1.5));
    let e = encode_for(&req, "gemini-2.5-flash", true).unwrap_err();
    assert_eq!(unsupported_param(e), "top_k");
}

#[test]
fn reasoning_effort_maps_to_thinking_config() {
    let mut req = with_messages(vec![user("hi")]);
    let budget = |req: &ChatRequest, model: &str| {
        encode_for(req, model, true).unwrap()["generationConfig"]["thinkingConfig"].clone()
    };
    for (effort, flash, pro) in [
        (ReasoningEffort::None, 0, 0),
        (ReasoningEffort::Minimal, 512, 512),
        (ReasoningEffort::Low, 1024, 1024),
        (ReasoningEffort::Medium, 8192, 8192),
        (ReasoningEffort::High, 24576, 24576),
        (ReasoningEffort::Xhigh, 24576, 32768),
    ] {
        req.reasoning_effort = Some(effort);
        let include = (effort != ReasoningEffort::None).then_some(true);
        let want = |b: u32| match include {
            Some(t) => json!({"includeThoughts": t, "thinkingBudget": b}),
            None => json!({"thinkingBudget": b}),
        };
        assert_eq!(budget(&req, "gemini-2.5-flash"), want(flash), "{effort:?}");
        assert_eq!(budget(&req, "gemini-2.5-pro"), want(pro), "{effort:?}");
    }
    for (effort, level) in [
        (ReasoningEffort::None, "MINIMAL"),
        (ReasoningEffort::Minimal, "MINIMAL"),
        (ReasoningEffort::Low, "LOW"),
        (ReasoningEffort::Medium, "MEDIUM"),
        (ReasoningEffort::High, "HIGH"),
        (ReasoningEffort::Xhigh, "HIGH"),
    ] {
        req.reasoning_effort = Some(effort);
        let got = budget(&req, "gemini-3-pro-preview");
        assert_eq!(got["thinkingLevel"], level, "{effort:?}");
        assert!(got.get("thinkingBudget").is_none());
        assert_eq!(
            got.get("includeThoughts").is_some(),
            effort != ReasoningEffort::None
        );
    }
}

#[test]
fn thinking_and_signatures_go_back_where_they_came_from() {
    let sig_text = "dGV4dA==";
    let sig_thought = "dGhvdWdodA==";
    let sig_call = "Y2FsbA==";
    let req = with_messages(vec![
        user("q"),
        assistant(
            vec![
                ContentPart::Thinking {
                    text: "unsigned, dropped".into(),
                    signature: None,
                },
                ContentPart::Thinking {
                    text: "signed".into(),
                    signature: Some(sig_thought.into()),
                },
                ContentPart::Thinking {
                    text: String::new(),
                    signature: Some(sig_text.into()),
                },
                ContentPart::RedactedThinking {
                    data: "opaque".into(),
                },
                ContentPart::Text {
                    text: "Answer".into(),
                },
            ],
            vec![call(&encode_call_id("call_a", Some(sig_call)), "f", "{}")],
        ),
        tool_result(&encode_call_id("call_a", Some(sig_call)), "ok"),
    ]);
    let body = encode(&req);
    assert_eq!(
        body["contents"][1]["parts"],
        json!([
            {"text": "signed", "thought": true, "thoughtSignature": sig_thought},
            {"text": "Answer", "thoughtSignature": sig_text},
            {"functionCall": {"id": "call_a", "name": "f", "args": {}}, "thoughtSignature": sig_call}
        ])
    );
    assert_eq!(
        body["contents"][2]["parts"][0]["functionResponse"]["id"],
        "call_a"
    );

    // A signature after the text (how a stream delivers it) goes on the text before it.
    let req = with_messages(vec![
        user("q"),
        assistant(
            vec![
                ContentPart::Text { text: "A".into() },
                ContentPart::Thinking {
                    text: String::new(),
                    signature: Some(sig_text.into()),
                },
            ],
            vec![],
        ),
    ]);
    assert_eq!(
        encode(&req)["contents"][1]["parts"],
        json!([{"text": "A", "thoughtSignature": sig_text}])
    );
    // With no text, it goes on the first unsigned call.
    let req = with_messages(vec![
        user("q"),
        assistant(
            vec![ContentPart::Thinking {
                text: String::new(),
                signature: Some(sig_text.into()),
            }],
            vec![call("c1", "f", "{}"), call("c2", "g", "{}")],
        ),
    ]);
    let parts = &encode(&req)["contents"][1]["parts"];
    assert_eq!(parts[0]["thoughtSignature"], sig_text);
    assert!(parts[1].get("thoughtSignature").is_none());
}

#[test]
fn gemini_3_gets_the_documented_stand_in_for_missing_signatures() {
    // History from another model: its calls carry no signature.
    let req = with_messages(vec![
        user("q"),
        assistant(
            vec![],
            vec![call("toolu_1", "f", "{}"), call("toolu_2", "g", "{}")],
        ),
        tool_result("toolu_1", "1"),
        tool_result("toolu_2", "2"),
        assistant(
            vec![],
            vec![call(&encode_call_id("call_x_0", Some("c2ln")), "f", "{}")],
        ),
        tool_result(&encode_call_id("call_x_0", Some("c2ln")), "3"),
    ]);
    let body = encode_for(&req, "gemini-3-pro-preview", true).unwrap();
    let parts = &body["contents"][1]["parts"];
    assert_eq!(parts[0]["thoughtSignature"], SKIP_SIGNATURE);
    // Only the first call of a step needs one (as Gemini writes parallel calls).
    assert!(parts[1].get("thoughtSignature").is_none());
    assert_eq!(body["contents"][3]["parts"][0]["thoughtSignature"], "c2ln");
    // Earlier models need none.
    let body = encode_for(&req, "gemini-2.5-pro", true).unwrap();
    assert!(body["contents"][1]["parts"][0]
        .get("thoughtSignature")
        .is_none());
}

#[test]
fn unsupported_parameters_are_refused_by_name_or_dropped() {
    for name in [
        "logprobs",
        "logit_bias",
        "top_logprobs",
        "modalities",
        "audio",
    ] {
        let mut req = with_messages(vec![user("hi")]);
        req.extra.insert(name.into(), json!(true));
        let e = encode_for(&req, "gemini-2.5-flash", true).unwrap_err();
        assert_eq!(unsupported_param(e), name);
        req.drop_params = true;
        assert_eq!(
            encode_for(&req, "gemini-2.5-flash", true).unwrap(),
            json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]})
        );
    }
    // Message fields the canonical model does not know.
    let mut m = Message::text(Role::Assistant, "x");
    m.extra.insert("audio".into(), json!({"id": "a"}));
    let mut req = with_messages(vec![user("hi"), m]);
    let e = encode_for(&req, "gemini-2.5-flash", true).unwrap_err();
    assert_eq!(unsupported_param(e), "messages[1].audio");
    req.drop_params = true;
    assert!(encode_for(&req, "gemini-2.5-flash", true).is_ok());
    // Images where Gemini takes text only.
    let image = ContentPart::Image {
        source: ImageSource::Url {
            url: "https://x/y.png".into(),
        },
        detail: None,
    };
    let mut req = with_messages(vec![
        user("a"),
        assistant(vec![], vec![call("c", "f", "{}")]),
        Message {
            content: vec![ContentPart::Text { text: "see".into() }, image.clone()],
            ..tool_result("c", "")
        },
    ]);
    let e = encode_for(&req, "gemini-2.5-flash", true).unwrap_err();
    assert_eq!(unsupported_param(e), "messages[2].content[1]");
    req.drop_params = true;
    assert_eq!(
        encode(&req)["contents"][2]["parts"][0]["functionResponse"]["response"],
        json!({"result": "see"})
    );
    let req = with_messages(vec![Message {
        content: vec![image],
        ..Message::text(Role::System, "")
    }]);
    let e = encode_for(&req, "gemini-2.5-flash", true).unwrap_err();
    assert_eq!(unsupported_param(e), "messages[0].content[0]");
}

#[test]
fn empty_turns_are_left_out() {
    let req = with_messages(vec![
        user(""),
        assistant(vec![], vec![]),
        Message {
            content: vec![ContentPart::Refusal {
                text: "I can't.".into(),
            }],
            ..Message::text(Role::Assistant, "")
        },
        user("ok"),
    ]);
    assert_eq!(
        encode(&req)["contents"],
        json!([
            {"role": "model", "parts": [{"text": "I can't."}]},
            {"role": "user", "parts": [{"text": "ok"}]}
        ])
    );
}
