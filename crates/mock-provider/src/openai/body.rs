//! The non-streaming `chat.completion` body (OpenAI and Azure), written straight to
//! bytes because it is on the benchmarks' hot path.

use crate::azure;
use crate::content::{Content, Finish, Reply};
use crate::handler::Ctx;
use crate::json::{push_json_str, push_u64, push_usage};

use super::stream::Flavor;

/// `finish_reason` of an OpenAI choice.
pub(crate) fn finish_reason(f: Finish) -> &'static str {
    match f {
        Finish::Stop => "stop",
        Finish::Length => "length",
        Finish::ToolCalls => "tool_calls",
        Finish::ContentFilter => "content_filter",
    }
}

/// Tool call ids: `call_mock_<n>`.
pub(crate) fn push_call_id(buf: &mut Vec<u8>, id: u64) {
    buf.extend_from_slice(b"\"call_mock_");
    push_u64(buf, id);
    buf.push(b'"');
}

pub(crate) fn completion_body(ctx: &Ctx, reply: &Reply, flavor: Flavor) -> Vec<u8> {
    let mut buf = Vec::with_capacity(640 + ctx.model.len() + reply.token_count() as usize * 8);
    buf.extend_from_slice(b"{\"id\":\"chatcmpl-mock-");
    push_u64(&mut buf, ctx.id);
    buf.extend_from_slice(b"\",\"object\":\"chat.completion\",\"created\":");
    push_u64(&mut buf, ctx.created);
    buf.extend_from_slice(b",\"model\":");
    push_json_str(&mut buf, &ctx.model);
    buf.extend_from_slice(b",\"choices\":[{\"index\":0,");
    if flavor == Flavor::Azure {
        buf.extend_from_slice(b"\"content_filter_results\":");
        buf.extend_from_slice(azure::completion_filter(reply.finish).as_bytes());
        buf.push(b',');
    }
    buf.extend_from_slice(b"\"message\":{\"role\":\"assistant\",\"content\":");
    match &reply.content {
        Content::Words { prefix, n } if prefix.is_empty() => {
            // The hot path: the words are plain ASCII, no escaping needed.
            buf.push(b'"');
            for i in 0..*n {
                buf.extend_from_slice(crate::content::word(i).as_bytes());
            }
            buf.push(b'"');
        }
        Content::Words { .. } | Content::Text(_) => push_json_str(&mut buf, &reply.text()),
        Content::Tool(_) => buf.extend_from_slice(b"null"),
    }
    if reply.reasoning {
        buf.extend_from_slice(b",\"reasoning_content\":");
        push_json_str(&mut buf, &reply.reasoning_text());
    }
    if let Some(call) = reply.tool_call() {
        buf.extend_from_slice(b",\"tool_calls\":[{\"id\":");
        push_call_id(&mut buf, ctx.id);
        buf.extend_from_slice(b",\"type\":\"function\",\"function\":{\"name\":");
        push_json_str(&mut buf, &call.name);
        buf.extend_from_slice(b",\"arguments\":");
        push_json_str(&mut buf, &call.args);
        buf.extend_from_slice(b"}}]");
    }
    buf.extend_from_slice(
        b",\"refusal\":null,\"annotations\":[]},\"logprobs\":null,\"finish_reason\":\"",
    );
    buf.extend_from_slice(finish_reason(reply.finish).as_bytes());
    buf.extend_from_slice(b"\"}],\"usage\":");
    push_usage(&mut buf, &reply.usage);
    if flavor == Flavor::Azure {
        buf.extend_from_slice(b",\"prompt_filter_results\":");
        buf.extend_from_slice(azure::PROMPT_FILTER_RESULTS.as_bytes());
    }
    buf.extend_from_slice(b",\"service_tier\":\"default\",\"system_fingerprint\":\"fp_mock\"}");
    buf
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::content::Usage;

    fn ctx(model: &str) -> Ctx {
        Ctx {
            id: 7,
            created: 1,
            model: model.to_owned(),
            include_usage: false,
            usage_on_finish: false,
            show_reasoning: true,
            latency_ms: 0,
        }
    }

    #[test]
    fn completion_body_shape() {
        let reply = Reply {
            reasoning: false,
            content: Content::Words {
                prefix: Vec::new(),
                n: 12,
            },
            finish: Finish::Stop,
            usage: Usage {
                prompt: 9,
                completion: 12,
                reasoning: 0,
                cached: 0,
            },
        };
        let body = completion_body(&ctx("m\"x"), &reply, Flavor::OpenAi);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["id"], "chatcmpl-mock-7");
        assert_eq!(v["model"], "m\"x");
        assert_eq!(
            v["choices"][0]["message"]["content"],
            "Hello from the Switchyard mock provider. Hello from the Switchyard mock"
        );
        assert_eq!(v["usage"]["total_tokens"], 21);
        assert!(v.get("prompt_filter_results").is_none());

        let body = completion_body(&ctx("dep"), &reply, Flavor::Azure);
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            v["choices"][0]["content_filter_results"]["hate"]["filtered"],
            false
        );
        assert_eq!(v["prompt_filter_results"][0]["prompt_index"], 0);
    }
}
