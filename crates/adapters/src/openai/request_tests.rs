//! Tests of the request codec, both directions.

use super::encode_request;
use crate::canonical::{
    ContentPart, ImageSource, Message, ReasoningEffort, ResponseFormat, Role, ToolCall, ToolChoice,
};
use crate::openai::request::decode_request;
use crate::test_support::fixture;
use serde_json::{json, Value};

fn body(v: &Value) -> Vec<u8> {
    serde_json::to_vec(v).unwrap()
}

fn rich_request() -> Value {
    json!({
        "model": "general",
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": [
                {"type": "text", "text": "What is in this image, and the weather there?"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"}}
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
                {"id": "call_2", "type": "function", "function": {"name": "get_time", "arguments": "{}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "18C"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "noon"}]},
            {"role": "assistant", "content": "A cat; 18C at noon.", "reasoning_content": "Look first."},
            {"role": "user", "name": "bob", "content": "Thanks"}
        ],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "description": "Weather by city",
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}, "strict": true}},
            {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object", "properties": {}}}}
        ],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "parallel_tool_calls": false,
        "response_format": {"type": "json_schema", "json_schema": {
            "name": "answer", "description": "The answer", "strict": true,
            "schema": {"type": "object", "properties": {"text": {"type": "string"}}}
        }},
        "reasoning_effort": "low",
        "max_tokens": 256,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": "END",
        "seed": 7,
        "n": 1,
        "user": "u-1",
        "stream": true,
        "stream_options": {"include_usage": false},
        "logprobs": true,
        "x_extra": {"keep": [1, "two", null]}
    })
}

#[test]
fn rich_request_decodes() {
    let r = decode_request(&body(&rich_request())).unwrap();
    assert_eq!(r.model, "general");
    let roles: Vec<Role> = r.messages.iter().map(|m| m.role).collect();
    use Role::*;
    assert_eq!(
        roles,
        vec![System, User, Assistant, Tool, Tool, Assistant, User]
    );
    assert_eq!(
        r.messages[1].content[1],
        ContentPart::Image {
            source: ImageSource::Base64 {
                media_type: "image/png".into(),
                data: "iVBORw0KGgo=".into()
            },
            detail: Some("low".into()),
        }
    );
    assert!(r.messages[2].content.is_empty());
    assert_eq!(
        r.messages[2].tool_calls[1],
        ToolCall {
            id: "call_2".into(),
            name: "get_time".into(),
            arguments: "{}".into()
        }
    );
    assert_eq!(r.messages[3].tool_call_id.as_deref(), Some("call_1"));
    assert_eq!(r.messages[4].joined_text(), "noon");
    assert_eq!(
        r.messages[5].content,
        vec![
            ContentPart::Thinking {
                text: "Look first.".into(),
                signature: None
            },
            ContentPart::Text {
                text: "A cat; 18C at noon.".into()
            },
        ]
    );
    assert_eq!(r.messages[6].name.as_deref(), Some("bob"));
    assert_eq!(r.tools.len(), 2);
    assert_eq!(r.tools[0].strict, Some(true));
    assert_eq!(
        r.tool_choice,
        Some(ToolChoice::Function {
            name: "get_weather".into()
        })
    );
    assert_eq!(r.parallel_tool_calls, Some(false));
    assert!(
        matches!(&r.response_format, Some(ResponseFormat::JsonSchema { name, strict: Some(true), description: Some(_), schema: Some(_) }) if name == "answer")
    );
    assert_eq!(r.reasoning_effort, Some(ReasoningEffort::Low));
    assert_eq!(
        (r.max_tokens, r.temperature, r.top_p),
        (Some(256), Some(0.2), Some(0.9))
    );
    assert_eq!(r.stop, vec!["END".to_string()]);
    assert_eq!(
        (r.seed, r.n, r.user.as_deref()),
        (Some(7), Some(1), Some("u-1"))
    );
    assert!(r.stream && !r.include_usage);
    let extra: Vec<&str> = r.extra.keys().map(String::as_str).collect();
    assert_eq!(extra, vec!["logprobs", "x_extra"]);
    assert_eq!(r.extra["x_extra"], json!({"keep": [1, "two", null]}));
}

#[test]
fn rich_request_round_trips() {
    let original = decode_request(&body(&rich_request())).unwrap();
    for reasoning_content in [false, true] {
        let wire = encode_request(&original, "gpt-4.1", reasoning_content);
        let v: Value = serde_json::from_slice(&wire).unwrap();
        assert_eq!(v["model"], "gpt-4.1");
        assert_eq!(v["max_completion_tokens"], 256);
        assert!(v.get("max_tokens").is_none());
        assert_eq!(v["stream_options"], json!({"include_usage": true}));
        assert_eq!(v["stop"], json!(["END"]));
        assert_eq!(v["x_extra"], json!({"keep": [1, "two", null]}));
        assert_eq!(v["logprobs"], true);
        assert_eq!(v["tool_choice"], rich_request()["tool_choice"]);
        assert_eq!(v["response_format"], rich_request()["response_format"]);
        assert_eq!(v["tools"], rich_request()["tools"]);
        let (got, want) = (&v["messages"], &rich_request()["messages"]);
        for i in [0, 1, 2, 3, 6] {
            assert_eq!(got[i], want[i], "messages[{i}]");
        }
        assert_eq!(got[4]["content"], "noon");
        assert_eq!(got[5]["content"], "A cat; 18C at noon.");
        assert_eq!(
            got[5].get("reasoning_content").and_then(Value::as_str),
            reasoning_content.then_some("Look first.")
        );

        let mut want = original.clone();
        want.model = "gpt-4.1".into();
        want.include_usage = true;
        if !reasoning_content {
            want.messages[5].content.remove(0);
        }
        assert_eq!(decode_request(&wire).unwrap(), want);
    }
}

#[test]
fn recorded_requests_round_trip() {
    let doc: Value =
        serde_yaml_ng::from_slice(&fixture("openai/pydanticai_test_openai_tool_output.yaml"))
            .unwrap();
    for interaction in doc["interactions"].as_array().unwrap() {
        let sent = &interaction["request"]["parsed_body"];
        let r = decode_request(&body(sent)).unwrap();
        assert_eq!(r.tool_choice, Some(ToolChoice::Required));
        assert_eq!(r.tools[0].description.as_deref(), Some(""));
        let wire = encode_request(&r, "gpt-4o", false);
        let v: Value = serde_json::from_slice(&wire).unwrap();
        for key in ["model", "n", "tool_choice", "tools"] {
            assert_eq!(v[key], sent[key], "{key}");
        }
        // An assistant message with tool calls gets an explicit `"content": null`.
        let without_null_content = |m: &Value| {
            let mut m = m.clone();
            m.as_object_mut()
                .unwrap()
                .retain(|k, v| !(k == "content" && v.is_null()));
            m
        };
        let got: Vec<Value> = v["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(without_null_content)
            .collect();
        assert_eq!(&Value::from(got), &sent["messages"]);
        assert_eq!(decode_request(&wire).unwrap(), r);
    }
}

#[test]
fn other_parts_and_fields() {
    let r = decode_request(&body(&json!({
        "model": "m",
        "messages": [
            {"role": "developer", "content": "dev"},
            {"role": "user", "content": [
                {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
                {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}},
                {"type": "file", "file": {"file_id": "file-1"}},
                {"type": "image_url", "image_url": {"url": "https://x/cat.png"}}
            ]},
            {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "refusal", "refusal": "no"}]},
            {"role": "assistant", "refusal": "nope", "tool_calls": null}
        ],
        "max_tokens": 10,
        "max_completion_tokens": 20,
        "stop": ["a", "b"],
        "temperature": null,
        "tool_choice": "none",
        "response_format": {"type": "json_object"},
        "stream_options": {"include_usage": true, "include_obfuscation": false}
    })))
    .unwrap();
    assert_eq!(r.max_tokens, Some(20), "max_completion_tokens wins");
    assert_eq!(r.stop, vec!["a".to_string(), "b".to_string()]);
    assert_eq!(r.temperature, None);
    assert!(r.include_usage && !r.stream);
    assert!(r.extra.is_empty(), "{:?}", r.extra);
    assert_eq!(r.messages[0].role, Role::Developer);
    assert_eq!(
        r.messages[1].content,
        vec![
            ContentPart::InputAudio {
                data: "UklGR".into(),
                format: "wav".into()
            },
            ContentPart::File {
                data: Some("data:application/pdf;base64,JVBER".into()),
                file_id: None,
                filename: Some("a.pdf".into()),
            },
            ContentPart::File {
                data: None,
                file_id: Some("file-1".into()),
                filename: None
            },
            ContentPart::Image {
                source: ImageSource::Url {
                    url: "https://x/cat.png".into()
                },
                detail: None
            },
        ]
    );
    assert_eq!(
        r.messages[3].content,
        vec![ContentPart::Refusal {
            text: "nope".into()
        }]
    );

    let wire = encode_request(&r, "up", false);
    let v: Value = serde_json::from_slice(&wire).unwrap();
    assert!(v.get("stream").is_none() && v.get("stream_options").is_none());
    assert_eq!(
        v["messages"][0],
        json!({"role": "developer", "content": "dev"})
    );
    assert_eq!(
        v["messages"][1]["content"][1],
        json!({"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}})
    );
    assert_eq!(
        v["messages"][2],
        json!({"role": "assistant", "content": "a", "refusal": "no"})
    );
    assert_eq!(
        v["messages"][3],
        json!({"role": "assistant", "content": null, "refusal": "nope"})
    );
    let mut want = r.clone();
    want.model = "up".into();
    want.include_usage = false; // stream_options go upstream only with stream: true
    assert_eq!(decode_request(&wire).unwrap(), want);
}

#[test]
fn errors_name_the_param() {
    let user = json!({"role": "user", "content": "x"});
    let with = |extra: Value| {
        let mut v = json!({"model": "m", "messages": [user.clone()]});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        v
    };
    let cases: Vec<(Value, Option<&str>, &str)> = vec![
        (
            with(
                json!({"messages": [user.clone(), user.clone(), {"role": "robot", "content": "x"}]}),
            ),
            Some("messages[2].role"),
            "'robot'",
        ),
        (
            with(json!({"messages": [user.clone(), {"role": "tool", "content": "18C"}]})),
            Some("messages[1].tool_call_id"),
            "Missing",
        ),
        (
            with(json!({"tools": "get_weather"})),
            Some("tools"),
            "expected an array, but got a string",
        ),
        (
            with(json!({"tools": [{"type": "custom", "custom": {"name": "x"}}]})),
            Some("tools[0].type"),
            "custom",
        ),
        (
            with(json!({"tools": [{"type": "function", "function": {}}]})),
            Some("tools[0].function.name"),
            "Missing",
        ),
        (
            with(json!({"messages": [{"role": "user"}]})),
            Some("messages[0].content"),
            "Missing",
        ),
        (
            with(json!({"messages": [{"content": "x"}]})),
            Some("messages[0].role"),
            "Missing",
        ),
        (
            with(json!({"messages": ["hi"]})),
            Some("messages[0]"),
            "expected an object",
        ),
        (
            with(json!({"messages": [{"role": "function", "content": "x"}]})),
            Some("messages[0].role"),
            "function",
        ),
        (
            with(
                json!({"messages": [{"role": "user", "content": [{"type": "video", "video": {}}]}]}),
            ),
            Some("messages[0].content[0].type"),
            "'video'",
        ),
        (
            with(
                json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}]}),
            ),
            Some("messages[0].content[0].image_url.url"),
            "Missing",
        ),
        (
            with(json!({"messages": [{"role": "user", "content": 5}]})),
            Some("messages[0].content"),
            "a number",
        ),
        (
            with(
                json!({"messages": [{"role": "assistant", "tool_calls": [{"type": "function", "function": {"name": "f"}}]}]}),
            ),
            Some("messages[0].tool_calls[0].id"),
            "Missing",
        ),
        (
            with(
                json!({"messages": [{"role": "user", "content": [{"type": "file", "file": {}}]}]}),
            ),
            Some("messages[0].content[0].file"),
            "file_id",
        ),
        (
            with(json!({"tool_choice": "sometimes"})),
            Some("tool_choice"),
            "'sometimes'",
        ),
        (
            with(json!({"tool_choice": {"type": "function", "function": {}}})),
            Some("tool_choice.function.name"),
            "Missing",
        ),
        (
            with(
                json!({"response_format": {"type": "json_schema", "json_schema": {"schema": {}}}}),
            ),
            Some("response_format.json_schema.name"),
            "Missing",
        ),
        (
            with(json!({"response_format": {"type": "yaml"}})),
            Some("response_format.type"),
            "'yaml'",
        ),
        (
            with(json!({"temperature": "hot"})),
            Some("temperature"),
            "a number",
        ),
        (
            with(json!({"max_tokens": -1})),
            Some("max_tokens"),
            "non-negative",
        ),
        (
            with(json!({"stop": 3})),
            Some("stop"),
            "a string or an array",
        ),
        (with(json!({"stop": ["a", 3]})), Some("stop[1]"), "a string"),
        (with(json!({"seed": 1.5})), Some("seed"), "integer"),
        (
            with(json!({"reasoning_effort": "max"})),
            Some("reasoning_effort"),
            "'max'",
        ),
        (with(json!({"stream": "yes"})), Some("stream"), "a boolean"),
        (
            with(json!({"stream_options": 7})),
            Some("stream_options"),
            "an object",
        ),
        (with(json!({"model": ""})), Some("model"), "empty"),
        (json!({"messages": [user.clone()]}), Some("model"), "model"),
        (json!({"model": "m"}), Some("messages"), "Missing"),
        (
            json!({"model": "m", "messages": []}),
            Some("messages"),
            "at least one",
        ),
        (json!([1]), None, "JSON object"),
    ];
    for (req, param, needle) in cases {
        let e = decode_request(&body(&req)).unwrap_err();
        assert_eq!(e.param.as_deref(), param, "{req} -> {}", e.message);
        assert!(e.message.contains(needle), "{req} -> {}", e.message);
    }
    let e = decode_request(b"{nope").unwrap_err();
    assert!(e.param.is_none() && e.message.contains("not valid JSON"));
}

#[test]
fn unknown_message_fields_are_kept_and_written_back() {
    let sent = json!({
        "model": "m",
        "messages": [
            {"role": "system", "content": "s", "x_provider": {"cache": true}},
            {"role": "user", "content": "hi", "tool_call_id": "stray"},
            {"role": "assistant", "content": "Hello.", "refusal": null,
             "audio": {"id": "audio_1"},
             "annotations": [{"type": "url_citation", "url_citation": {"url": "https://x"}}],
             "function_call": {"name": "f", "arguments": "{}"}},
            {"role": "tool", "tool_call_id": "call_1", "content": "ok", "is_error": false},
            // Explicit nulls are absent, as for the modelled fields.
            {"role": "assistant", "content": "x", "audio": null, "function_call": null}
        ]
    });
    let r = decode_request(&body(&sent)).unwrap();
    let keys = |i: usize| {
        let mut k: Vec<&str> = r.messages[i].extra.keys().map(String::as_str).collect();
        k.sort_unstable();
        k
    };
    assert_eq!(keys(0), vec!["x_provider"]);
    assert_eq!(
        keys(1),
        vec!["tool_call_id"],
        "not modelled for a user message"
    );
    assert_eq!(r.messages[1].tool_call_id, None);
    assert_eq!(keys(2), vec!["annotations", "audio", "function_call"]);
    assert_eq!(r.messages[2].extra["audio"], json!({"id": "audio_1"}));
    assert_eq!(keys(3), vec!["is_error"]);
    assert!(r.messages[4].extra.is_empty(), "{:?}", r.messages[4].extra);

    // Same format: every message goes back as it came (less the explicit nulls).
    let v: Value = serde_json::from_slice(&encode_request(&r, "up", false)).unwrap();
    let mut want = sent["messages"].clone();
    want[2].as_object_mut().unwrap().remove("refusal");
    want[4] = json!({"role": "assistant", "content": "x"});
    assert_eq!(v["messages"], want);
    let again = decode_request(&serde_json::to_vec(&v).unwrap()).unwrap();
    assert_eq!(again.messages, r.messages);
}

#[test]
fn message_extra_never_overrides_modelled_fields() {
    let extra = |v: Value| v.as_object().unwrap().clone();
    let mut assistant = Message::text(Role::Assistant, "real");
    assistant.extra = extra(json!({
        "role": "user", "content": "fake", "name": "fake", "refusal": "fake",
        "reasoning_content": "fake", "tool_calls": [], "tool_call_id": "stray", "audio": {"id": "a"}
    }));
    let mut user = Message::text(Role::User, "real");
    user.name = Some("bob".into());
    user.extra = extra(json!({"content": "fake", "name": "fake", "refusal": "kept"}));
    let mut tool = Message::text(Role::Tool, "real");
    tool.tool_call_id = Some("call_1".into());
    tool.extra = extra(json!({"tool_call_id": "fake"}));
    let req = crate::canonical::ChatRequest {
        model: "m".into(),
        messages: vec![assistant, user, tool],
        ..Default::default()
    };
    let wire = encode_request(&req, "up", true);
    let text = std::str::from_utf8(&wire).unwrap();
    assert!(!text.contains("fake"), "{text}");
    let v: Value = serde_json::from_slice(&wire).unwrap();
    assert_eq!(
        v["messages"],
        json!([
            // `tool_call_id` is not modelled for an assistant message, so it stays.
            {"role": "assistant", "content": "real", "tool_call_id": "stray", "audio": {"id": "a"}},
            {"role": "user", "content": "real", "name": "bob", "refusal": "kept"},
            {"role": "tool", "content": "real", "tool_call_id": "call_1"}
        ])
    );
}

#[test]
fn thinking_blocks_keep_signatures_and_supersede_reasoning_content() {
    let body = json!({
        "model": "m",
        "messages": [
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": "a", "reasoning_content": "plain",
             "thinking_blocks": [
                {"type": "thinking", "thinking": "step", "signature": "sig-1"},
                {"type": "redacted_thinking", "data": "opaque"}
             ]}
        ]
    });
    let req = decode_request(&serde_json::to_vec(&body).unwrap()).unwrap();
    assert_eq!(
        req.messages[1].content,
        vec![
            ContentPart::Thinking {
                text: "step".into(),
                signature: Some("sig-1".into())
            },
            ContentPart::RedactedThinking {
                data: "opaque".into()
            },
            ContentPart::Text { text: "a".into() },
        ]
    );
    // And back out: a response with signed thinking lists its blocks.
    let resp = crate::canonical::ChatResponse {
        id: "c".into(),
        model: "m".into(),
        created: 1,
        choices: vec![crate::canonical::Choice {
            index: 0,
            message: req.messages[1].clone(),
            finish_reason: Some(crate::canonical::FinishReason::Stop),
            raw_reason: None,
        }],
        usage: Default::default(),
        system_fingerprint: None,
    };
    let out: Value = serde_json::from_slice(&crate::openai::encode_response(&resp, "pub")).unwrap();
    let msg = &out["choices"][0]["message"];
    assert_eq!(msg["reasoning_content"], "step");
    assert_eq!(
        msg["thinking_blocks"],
        json!([{"type": "thinking", "thinking": "step", "signature": "sig-1"},
               {"type": "redacted_thinking", "data": "opaque"}])
    );
    let bad = json!({"model": "m", "messages": [{"role": "assistant", "content": "a",
        "thinking_blocks": [{"type": "nope"}]}]});
    let e = decode_request(&serde_json::to_vec(&bad).unwrap()).unwrap_err();
    assert_eq!(
        e.param.as_deref(),
        Some("messages[0].thinking_blocks[0].type")
    );
}
