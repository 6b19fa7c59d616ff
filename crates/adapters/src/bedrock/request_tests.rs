//! Request building: the recorded Converse requests, then every mapping and refusal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::fixture_tests::cassette;
use super::*;
use crate::canonical::{ChatRequest, ContentPart, Message, ReasoningEffort, Role};
use serde_json::{json, Value};

const CLAUDE: &str = "us.anthropic.claude-sonnet-4-20250514-v1:0";
const NOVA: &str = "us.amazon.nova-micro-v1:0";
const NOVA2: &str = "us.amazon.nova-2-lite-v1:0";

/// The canonical request of an OpenAI Chat Completions body, as the gateway gets it.
fn openai(body: Value) -> ChatRequest {
    crate::openai::decode_request(&serde_json::to_vec(&body).unwrap()).unwrap()
}

fn encode(req: &ChatRequest, model: &str) -> Value {
    serde_json::from_slice(&encode_request(req, model).unwrap()).unwrap()
}

fn refused(req: &ChatRequest, model: &str) -> (String, String) {
    match encode_request(req, model) {
        Err(AdapterError::Unsupported { param, message }) => (param, message),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn target(model: &str) -> Target<'_> {
    Target {
        base_url: "https://bedrock-runtime.us-east-1.amazonaws.com",
        api_key: Some("ignored"),
        organization: None,
        upstream_model: model,
    }
}

/// `%3A` → `:` (the only escape in the recorded URLs).
fn model_of(uri: &str) -> String {
    let seg = uri
        .split("/model/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap();
    seg.replace("%3A", ":")
}

/// A recorded body as we write it: no empty `system` / `inferenceConfig`, and no
/// `toolResult.status` (OpenAI tool messages have none).
fn normalise(mut v: Value) -> Value {
    let obj = v.as_object_mut().unwrap();
    if obj.get("system") == Some(&json!([])) {
        obj.remove("system");
    }
    if obj.get("inferenceConfig") == Some(&json!({})) {
        obj.remove("inferenceConfig");
    }
    for m in obj["messages"].as_array_mut().unwrap() {
        for b in m["content"].as_array_mut().unwrap() {
            if let Some(r) = b.get_mut("toolResult") {
                r.as_object_mut().unwrap().remove("status");
            }
        }
    }
    v
}

/// Each recorded Converse request, with the OpenAI request that must produce it.
#[test]
fn recorded_requests_are_reproduced() {
    let get_capital = json!({"type": "function", "function": {
        "name": "get_capital", "description": "Get the capital of a country.",
        "parameters": {"additionalProperties": false, "properties": {"country": {"description": "The country name.", "type": "string"}}, "required": ["country"], "type": "object"}}});
    let iter_tools = json!([
        {"type": "function", "function": {"name": "get_capital", "description": "Get the capital of a country.",
            "parameters": {"properties": {"country": {"description": "The country name.", "title": "Country", "type": "string"}}, "required": ["country"], "type": "object", "additionalProperties": false}}},
        {"type": "function", "function": {"name": "get_temperature", "description": "Get the temperature in a city.",
            "parameters": {"properties": {"city": {"description": "The city name.", "title": "City", "type": "string"}}, "required": ["city"], "type": "object", "additionalProperties": false}}}
    ]);
    let thought = "<thinking> To determine the capital of France, I can use the provided tool that returns the capital of a given country. Since the country in question is France, I will use the tool with the country parameter set to \"France\". </thinking>\n";
    let rows: Vec<(&str, usize, Value)> = vec![
        (
            "bedrock/pydanticai_test_bedrock_model.yaml",
            0,
            json!({"model": "m", "messages": [
            {"role": "system", "content": "You are a chatbot."}, {"role": "user", "content": "Hello!"}]}),
        ),
        (
            "bedrock/pydanticai_test_bedrock_model_stream.yaml",
            0,
            json!({"model": "m", "stream": true, "temperature": 0.0, "messages": [
            {"role": "system", "content": "You are a helpful chatbot."}, {"role": "user", "content": "What is the capital of France?"}]}),
        ),
        (
            "bedrock/pydanticai_test_bedrock_model_iter_stream.yaml",
            0,
            json!({"model": "m", "stream": true, "top_p": 0.5, "tools": iter_tools, "messages": [
            {"role": "system", "content": "You are a helpful chatbot."}, {"role": "user", "content": "What is the temperature of the capital of France?"}]}),
        ),
        (
            "bedrock/pydanticai_test_bedrock_model_retry.yaml",
            0,
            json!({"model": "m", "temperature": 0.0, "tools": [get_capital], "tool_choice": "auto", "messages": [
            {"role": "system", "content": "You are a helpful chatbot."}, {"role": "user", "content": "What is the capital of France?"}]}),
        ),
        (
            "bedrock/pydanticai_test_bedrock_model_retry.yaml",
            1,
            json!({"model": "m", "temperature": 0.0, "tools": [get_capital], "tool_choice": "auto", "messages": [
            {"role": "system", "content": "You are a helpful chatbot."},
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": thought, "tool_calls": [{"id": "tooluse_Ze_bgl9CSqu8aJv7XD-_Dw", "type": "function",
                "function": {"name": "get_capital", "arguments": "{\"country\": \"France\"}"}}]},
            {"role": "tool", "tool_call_id": "tooluse_Ze_bgl9CSqu8aJv7XD-_Dw", "content": "The country is not supported.\n\nFix the errors and try again."}]}),
        ),
        (
            "bedrock/pydanticai_test_bedrock_model_stream_empty_text_delta.yaml",
            0,
            json!({"model": "m", "stream": true, "messages": [
            {"role": "user", "content": "Hi"}]}),
        ),
        (
            "bedrock/pydanticai_test_bedrock_model_thinking_part_stream.yaml",
            0,
            json!({"model": "m", "stream": true, "reasoning_effort": "minimal", "messages": [
            {"role": "user", "content": "Hello"}]}),
        ),
        (
            "bedrock/pydanticai_test_bedrock_error.yaml",
            0,
            json!({"model": "m", "messages": [{"role": "user", "content": "hello"}]}),
        ),
        (
            "bedrock/pydanticai_test_bedrock_streaming_error.yaml",
            0,
            json!({"model": "m", "stream": true, "messages": [{"role": "user", "content": "hello"}]}),
        ),
    ];
    for (rel, n, body) in rows {
        let rec = cassette(rel).remove(n);
        let model = model_of(&rec.uri);
        let req = openai(body);
        let up = BedrockAdapter::new()
            .build_request(&req, &target(&model))
            .unwrap();
        assert_eq!(
            up.url,
            converse_url(&default_base_url("us-east-1"), &model, req.stream)
        );
        assert_eq!(up.url, rec.uri, "{rel}");
        let mut got: Value = serde_json::from_slice(&up.body).unwrap();
        if req.reasoning_effort.is_some() {
            // Claude needs room above the thinking budget; pydantic-ai left it to the
            // model's default.
            assert_eq!(got["inferenceConfig"], json!({"maxTokens": 1024 + 4096}));
            got.as_object_mut().unwrap().remove("inferenceConfig");
        }
        assert_eq!(got, normalise(rec.request), "{rel}#{n}");
    }
}

#[test]
fn url_headers_and_no_auth() {
    let req = openai(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]}));
    let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc 1";
    let up = BedrockAdapter::new()
        .build_request(
            &req,
            &Target {
                base_url: "http://127.0.0.1:9/",
                ..target(arn)
            },
        )
        .unwrap();
    assert_eq!(
        up.url,
        "http://127.0.0.1:9/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabc%201/converse"
    );
    assert_eq!(up.headers["content-type"], "application/json");
    assert!(up.headers.get("accept").is_none());
    assert!(
        up.headers.get("authorization").is_none(),
        "the gateway signs"
    );
    assert_eq!(up.headers.len(), 1);

    let req = ChatRequest {
        stream: true,
        ..req
    };
    let up = BedrockAdapter::new()
        .build_request(&req, &target(NOVA))
        .unwrap();
    assert!(up
        .url
        .ends_with("/model/us.amazon.nova-micro-v1%3A0/converse-stream"));
    assert_eq!(up.headers["accept"], "application/vnd.amazon.eventstream");
    assert_eq!(
        BedrockAdapter::new().wire_format(),
        WireFormat::BedrockConverse
    );
    assert_eq!(
        default_base_url("eu-west-3"),
        "https://bedrock-runtime.eu-west-3.amazonaws.com"
    );
}

#[test]
fn system_and_developer_become_system_blocks() {
    let req = openai(json!({"model": "m", "messages": [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "hi"},
        {"role": "developer", "content": [{"type": "text", "text": "Use French."}, {"type": "text", "text": ""}]},
        {"role": "system", "content": ""},
    ]}));
    let v = encode(&req, NOVA);
    assert_eq!(
        v["system"],
        json!([{"text": "Be brief."}, {"text": "Use French."}])
    );
    assert_eq!(
        v["messages"],
        json!([{"role": "user", "content": [{"text": "hi"}]}])
    );
}

#[test]
fn multi_turn_tools_merge_into_alternating_turns() {
    let req = openai(
        json!({"model": "m", "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}], "messages": [
            {"role": "user", "content": "a"},
            {"role": "user", "content": [{"type": "text", "text": "b"}]},
            {"role": "assistant", "content": "calling", "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{\"z\": 1, \"a\": 2}"}},
                {"id": "c2", "type": "function", "function": {"name": "f", "arguments": ""}}]},
            {"role": "tool", "tool_call_id": "c1", "content": "one"},
            {"role": "tool", "tool_call_id": "c2", "content": ""},
            {"role": "user", "content": "thanks"},
            {"role": "assistant", "content": ""},
            {"role": "user", "content": "more"},
            {"role": "assistant", "content": "x"},
            {"role": "assistant", "content": "y"},
        ]}),
    );
    let v = encode(&req, NOVA);
    assert_eq!(
        v["messages"],
        json!([
            {"role": "user", "content": [{"text": "a"}, {"text": "b"}]},
            {"role": "assistant", "content": [
                {"text": "calling"},
                {"toolUse": {"toolUseId": "c1", "name": "f", "input": {"z": 1, "a": 2}}},
                {"toolUse": {"toolUseId": "c2", "name": "f", "input": {}}}]},
            {"role": "user", "content": [
                {"toolResult": {"toolUseId": "c1", "content": [{"text": "one"}]}},
                {"toolResult": {"toolUseId": "c2", "content": []}},
                {"text": "thanks"}, {"text": "more"}]},
            {"role": "assistant", "content": [{"text": "x"}, {"text": "y"}]},
        ])
    );
    // The arguments go out as the client wrote them, key order included.
    let raw = String::from_utf8(encode_request(&req, NOVA).unwrap()).unwrap();
    assert!(raw.contains(r#""input":{"z": 1, "a": 2}"#), "{raw}");
    assert_eq!(v["toolConfig"]["tools"][0]["toolSpec"]["name"], "f");
    assert!(v["toolConfig"].get("toolChoice").is_none());
}

#[test]
fn invalid_tool_arguments_are_refused_by_name() {
    let req = openai(json!({"model": "m", "messages": [
        {"role": "user", "content": "a"},
        {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{oops"}}]},
    ]}));
    let (param, message) = refused(&req, NOVA);
    assert_eq!(param, "messages[1].tool_calls[0].function.arguments");
    assert!(message.contains("valid JSON"), "{message}");
}

#[test]
fn images_base64_and_url() {
    let req = openai(
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo=", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "data:image/jpg;base64,/9j/4AAQ"}},
        ]}]}),
    );
    assert_eq!(
        encode(&req, NOVA)["messages"][0]["content"],
        json!([
            {"text": "what is this?"},
            {"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
            {"image": {"format": "jpeg", "source": {"bytes": "/9j/4AAQ"}}},
        ])
    );
    let req = openai(
        json!({"model": "m", "messages": [{"role": "user", "content": [
            {"type": "text", "text": "what is this?"},
            {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        ]}]}),
    );
    let (param, message) = refused(&req, NOVA);
    assert_eq!(param, "messages[0].content[1].image_url");
    assert!(message.contains("data:"), "{message}");
    // Not even with drop_params: dropping an image would change the question.
    let req = ChatRequest {
        drop_params: true,
        ..req
    };
    assert!(encode_request(&req, NOVA).is_err());
    let req = openai(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/svg+xml;base64,PHN2Zz4="}}]}]}),
    );
    assert_eq!(refused(&req, NOVA).0, "messages[0].content[0].image_url");
    let req = openai(
        json!({"model": "m", "messages": [{"role": "user", "content": [
        {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}}]}]}),
    );
    assert_eq!(refused(&req, NOVA).0, "messages[0].content[0]");
}

fn with_tools(extra: Value) -> ChatRequest {
    let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "weather?"}],
        "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Weather.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true}},
            {"type": "function", "function": {"name": "noop", "description": ""}}]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    openai(body)
}

#[test]
fn tools_and_tool_choice() {
    let v = encode(&with_tools(json!({})), NOVA);
    assert_eq!(
        v["toolConfig"],
        json!({"tools": [
            {"toolSpec": {"name": "get_weather", "description": "Weather.",
                "inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}}}, "strict": true}},
            {"toolSpec": {"name": "noop", "inputSchema": {"json": {"type": "object", "properties": {}}}}},
        ]})
    );
    for (choice, want) in [
        (json!("auto"), json!({"auto": {}})),
        (json!("required"), json!({"any": {}})),
        (
            json!({"type": "function", "function": {"name": "get_weather"}}),
            json!({"tool": {"name": "get_weather"}}),
        ),
    ] {
        let v = encode(&with_tools(json!({"tool_choice": choice})), NOVA);
        assert_eq!(v["toolConfig"]["toolChoice"], want);
    }
    // `none`: no tools at all...
    let v = encode(&with_tools(json!({"tool_choice": "none"})), NOVA);
    assert!(v.get("toolConfig").is_none(), "{v}");
    // ...unless the conversation holds tool blocks, which need a toolConfig.
    let mut req = with_tools(json!({"tool_choice": "none"}));
    req.messages.extend(openai(json!({"model": "m", "messages": [
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c", "content": "sunny"}]})).messages);
    let v = encode(&req, NOVA);
    assert_eq!(v["toolConfig"]["tools"].as_array().unwrap().len(), 2);
    assert!(v["toolConfig"].get("toolChoice").is_none());
    // Tool blocks with no tools declared get stand-in specs.
    req.tools.clear();
    let v = encode(&req, NOVA);
    assert_eq!(
        v["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {"type": "object"}}}}]})
    );
}

#[test]
fn parallel_tool_calls() {
    assert!(encode_request(&with_tools(json!({"parallel_tool_calls": true})), NOVA).is_ok());
    let req = with_tools(json!({"parallel_tool_calls": false}));
    assert_eq!(refused(&req, NOVA).0, "parallel_tool_calls");
    let req = ChatRequest {
        drop_params: true,
        ..req
    };
    assert!(encode(&req, NOVA)["toolConfig"].is_object());
}

#[test]
fn response_format_is_a_forced_tool() {
    let req = openai(
        json!({"model": "m", "messages": [{"role": "user", "content": "json please"}],
        "response_format": {"type": "json_object"}}),
    );
    let v = encode(&req, NOVA);
    assert_eq!(
        v["toolConfig"],
        json!({"tools": [{"toolSpec": {"name": JSON_TOOL,
            "description": "Respond with a JSON object: the input of this tool is the answer.",
            "inputSchema": {"json": {"type": "object"}}}}],
            "toolChoice": {"tool": {"name": JSON_TOOL}}})
    );
    let schema =
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]});
    let req = openai(
        json!({"model": "m", "messages": [{"role": "user", "content": "json please"}],
        "response_format": {"type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": true}}}),
    );
    let v = encode(&req, NOVA);
    let spec = &v["toolConfig"]["tools"][0]["toolSpec"];
    assert_eq!(
        (&spec["name"], &spec["inputSchema"]["json"], &spec["strict"]),
        (&json!(JSON_TOOL), &schema, &json!(true))
    );
    assert_eq!(
        v["toolConfig"]["toolChoice"],
        json!({"tool": {"name": JSON_TOOL}})
    );

    // With the client's tools callable too: any tool, so either a call or the answer.
    let v = encode(
        &with_tools(json!({"response_format": {"type": "json_object"}})),
        NOVA,
    );
    let names: Vec<&str> = v["toolConfig"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["toolSpec"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["get_weather", "noop", JSON_TOOL]);
    assert_eq!(v["toolConfig"]["toolChoice"], json!({"any": {}}));
    // tool_choice none: only the JSON tool.
    let v = encode(
        &with_tools(json!({"response_format": {"type": "json_object"}, "tool_choice": "none"})),
        NOVA,
    );
    assert_eq!(v["toolConfig"]["tools"].as_array().unwrap().len(), 1);
    assert_eq!(
        v["toolConfig"]["toolChoice"],
        json!({"tool": {"name": JSON_TOOL}})
    );
    // response_format text: nothing.
    let req = openai(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "text"}}),
    );
    assert!(encode(&req, NOVA).get("toolConfig").is_none());

    // The name is reserved.
    let req = openai(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"type": "function", "function": {"name": JSON_TOOL}}]}),
    );
    assert_eq!(refused(&req, NOVA).0, "tools[0].function.name");
}

fn effort(model: &str, effort: &str, extra: Value) -> Result<Value, AdapterError> {
    let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "think"}], "reasoning_effort": effort});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    encode_request(&openai(body), model).map(|b| serde_json::from_slice(&b).unwrap())
}

#[test]
fn reasoning_effort_per_model_family() {
    for (e, budget) in [
        ("minimal", 1024),
        ("low", 2048),
        ("medium", 8192),
        ("high", 16384),
        ("xhigh", 32768),
    ] {
        let v = effort(CLAUDE, e, json!({})).unwrap();
        assert_eq!(
            v["additionalModelRequestFields"],
            json!({"thinking": {"type": "enabled", "budget_tokens": budget}}),
            "{e}"
        );
        assert_eq!(v["inferenceConfig"]["maxTokens"], budget + 4096);
    }
    // A client max_tokens is kept; the budget fits under it.
    let v = effort(CLAUDE, "high", json!({"max_tokens": 3000})).unwrap();
    assert_eq!(
        v["additionalModelRequestFields"]["thinking"]["budget_tokens"],
        2999
    );
    assert_eq!(v["inferenceConfig"]["maxTokens"], 3000);
    let e = effort(CLAUDE, "low", json!({"max_tokens": 1000})).unwrap_err();
    assert!(
        matches!(&e, AdapterError::Unsupported { param, .. } if param == "reasoning_effort"),
        "{e:?}"
    );
    let v = effort(
        CLAUDE,
        "low",
        json!({"max_tokens": 1000, "drop_params": true}),
    )
    .unwrap();
    assert!(v.get("additionalModelRequestFields").is_none());
    // none: nothing.
    assert!(effort(CLAUDE, "none", json!({}))
        .unwrap()
        .get("additionalModelRequestFields")
        .is_none());
    assert!(effort(NOVA, "none", json!({}))
        .unwrap()
        .get("additionalModelRequestFields")
        .is_none());

    for (e, want) in [
        ("minimal", "low"),
        ("low", "low"),
        ("medium", "medium"),
        ("high", "high"),
        ("xhigh", "high"),
    ] {
        let v = effort(NOVA2, e, json!({})).unwrap();
        assert_eq!(
            v["additionalModelRequestFields"],
            json!({"reasoningConfig": {"type": "enabled", "maxReasoningEffort": want}})
        );
    }
    let e = effort(NOVA, "high", json!({})).unwrap_err();
    match e {
        AdapterError::Unsupported { param, message } => {
            assert_eq!(param, "reasoning_effort");
            assert!(
                message.contains("Bedrock") && message.contains("drop_params"),
                "{message}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(effort(NOVA, "high", json!({"drop_params": true}))
        .unwrap()
        .get("additionalModelRequestFields")
        .is_none());

    // Claude cannot think while the JSON tool is forced.
    let rf = json!({"response_format": {"type": "json_object"}});
    let e = effort(CLAUDE, "low", rf.clone()).unwrap_err();
    assert!(
        matches!(e, AdapterError::Unsupported { ref param, .. } if param == "reasoning_effort")
    );
    let v = effort(
        CLAUDE,
        "low",
        json!({"response_format": {"type": "json_object"}, "drop_params": true}),
    )
    .unwrap();
    assert!(v.get("additionalModelRequestFields").is_none());
    assert_eq!(
        v["toolConfig"]["toolChoice"],
        json!({"tool": {"name": JSON_TOOL}})
    );
}

#[test]
fn inference_config_and_refusals() {
    let req = openai(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
        "max_completion_tokens": 100, "temperature": 0.3, "top_p": 0.9, "stop": ["END", "", "STOP"],
        "user": "u-1", "n": 1}),
    );
    let v = encode(&req, NOVA);
    assert_eq!(
        v["inferenceConfig"],
        json!({"maxTokens": 100, "temperature": 0.3, "topP": 0.9, "stopSequences": ["END", "STOP"]})
    );
    assert_eq!(
        v.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["inferenceConfig", "messages"],
        "`user` is not sent"
    );

    for (extra, param) in [
        (json!({"seed": 7}), "seed"),
        (json!({"n": 2}), "n"),
        (json!({"logprobs": true}), "logprobs"),
        (json!({"top_logprobs": 2}), "top_logprobs"),
        (json!({"logit_bias": {"1": 2}}), "logit_bias"),
        (json!({"frequency_penalty": 0.5}), "frequency_penalty"),
        (json!({"presence_penalty": 0.5}), "presence_penalty"),
        (json!({"top_k": 5}), "top_k"),
    ] {
        let mut body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let req = openai(body);
        let (got, message) = refused(&req, NOVA);
        assert_eq!(got, param);
        assert!(
            message.contains(param) && message.contains("Bedrock"),
            "{message}"
        );
        // Dropped on request.
        let req = ChatRequest {
            drop_params: true,
            ..req
        };
        let v = encode(&req, NOVA);
        assert!(
            v.get("additionalModelRequestFields").is_none(),
            "{param}: {v}"
        );
    }
    // top_k is Claude's.
    let req =
        openai(json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_k": 5}));
    assert_eq!(
        encode(&req, CLAUDE)["additionalModelRequestFields"],
        json!({"top_k": 5})
    );
    let req = openai(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_k": "five"}),
    );
    assert_eq!(refused(&req, CLAUDE).0, "top_k");
    // Unknown message fields are named.
    let req = openai(
        json!({"model": "m", "messages": [{"role": "user", "content": "hi"},
        {"role": "assistant", "content": "x", "audio": {"id": "a"}}]}),
    );
    assert_eq!(refused(&req, NOVA).0, "messages[1].audio");
}

#[test]
fn thinking_goes_back_to_claude_only_signed() {
    let assistant = Message {
        content: vec![
            ContentPart::Thinking {
                text: "hmm".into(),
                signature: Some("sig".into()),
            },
            ContentPart::Thinking {
                text: "from elsewhere".into(),
                signature: None,
            },
            ContentPart::RedactedThinking {
                data: "ZW5j".into(),
            },
            ContentPart::Text {
                text: "answer".into(),
            },
        ],
        ..Message::text(Role::Assistant, "")
    };
    let req = ChatRequest {
        messages: vec![
            Message::text(Role::User, "q"),
            assistant,
            Message::text(Role::User, "again"),
        ],
        reasoning_effort: Some(ReasoningEffort::Low),
        ..ChatRequest::default()
    };
    assert_eq!(
        encode(&req, CLAUDE)["messages"][1]["content"],
        json!([
            {"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "sig"}}},
            {"reasoningContent": {"redactedContent": "ZW5j"}},
            {"text": "answer"},
        ])
    );
    let req = ChatRequest {
        reasoning_effort: None,
        ..req
    };
    assert_eq!(
        encode(&req, NOVA)["messages"][1]["content"],
        json!([{"text": "answer"}])
    );
}

#[test]
fn nothing_to_send_is_refused() {
    let req = openai(
        json!({"model": "m", "messages": [{"role": "system", "content": "sys"}, {"role": "user", "content": ""}]}),
    );
    assert_eq!(refused(&req, NOVA).0, "messages");
}
