//! Which endpoint a request is for, and where its `[knobs/]` path prefix ends.
//!
//! Every provider path may be preceded by any number of segments; those containing `=`
//! are knob lists (`status=429,fail_times=1`), the others are ignored. So a gateway's
//! `base_url` can carry knobs: `http://mock/status=429` + `/v1/messages`.

use axum::http::{Method, Uri};

use crate::bedrock::Bedrock;
use crate::behavior::percent_decode;
use crate::gemini::Gemini;
use crate::media::{Host, Media, Op};

pub(crate) enum Route {
    OpenAi,
    Azure {
        deployment: String,
    },
    Anthropic,
    /// `POST …/v1/messages/count_tokens`.
    AnthropicCountTokens,
    Gemini(Gemini),
    Bedrock(Bedrock),
    Media(Media),
    /// `GET …/files/img-*.png`.
    File,
    Token,
    Models,
    NotFound,
}

/// The route and the byte length of the path's knob prefix.
pub(crate) fn route(method: &Method, uri: &Uri) -> (Route, usize) {
    let path = uri.path();
    if *method == Method::GET {
        return if path.ends_with("/models") {
            (Route::Models, 0)
        } else if is_file(path) {
            (Route::File, 0)
        } else {
            (Route::NotFound, 0)
        };
    }
    if *method != Method::POST {
        return (Route::NotFound, 0);
    }
    // (byte offset of the segment's leading '/', segment)
    let segs: Vec<(usize, &str)> = path
        .match_indices('/')
        .map(|(i, _)| {
            let rest = &path[i + 1..];
            (i, rest.split('/').next().unwrap_or(""))
        })
        .collect();
    let n = segs.len();
    let seg = |back: usize| -> &str { n.checked_sub(back).map_or("", |i| segs[i].1) };
    let start = |back: usize| -> usize { n.checked_sub(back).map_or(0, |i| segs[i].0) };

    if seg(2) == "chat" && seg(1) == "completions" {
        if n >= 5 && seg(5) == "openai" && seg(4) == "deployments" && !seg(3).is_empty() {
            let deployment = percent_decode(seg(3)).into_owned();
            return (Route::Azure { deployment }, start(5));
        }
        return (Route::OpenAi, start(2));
    }
    // Embeddings, images, audio: OpenAI's paths, or Azure's under a deployment.
    let media_op = match (seg(2), seg(1)) {
        (_, "embeddings") => Some((Op::Embeddings, 1)),
        ("images", "generations") => Some((Op::Images, 2)),
        ("audio", "transcriptions") => Some((Op::Transcriptions, 2)),
        ("audio", "speech") => Some((Op::Speech, 2)),
        _ => None,
    };
    if let Some((op, depth)) = media_op {
        let host = if n >= depth + 3
            && seg(depth + 3) == "openai"
            && seg(depth + 2) == "deployments"
            && !seg(depth + 1).is_empty()
        {
            let deployment = percent_decode(seg(depth + 1)).into_owned();
            return (
                Route::Media(Media {
                    host: Host::Azure { deployment },
                    op,
                }),
                start(depth + 3),
            );
        } else {
            Host::OpenAi
        };
        return (Route::Media(Media { host, op }), start(depth));
    }
    if seg(3) == "model" && seg(1) == "invoke" && !seg(2).is_empty() {
        let model = percent_decode(seg(2)).into_owned();
        return (
            Route::Media(Media {
                host: Host::Bedrock { model },
                op: Op::Invoke,
            }),
            start(3),
        );
    }
    if seg(3) == "v1" && seg(2) == "messages" && seg(1) == "count_tokens" {
        return (Route::AnthropicCountTokens, start(3));
    }
    if seg(2) == "v1" && seg(1) == "messages" {
        return (Route::Anthropic, start(2));
    }
    if seg(3) == "model" && matches!(seg(1), "converse" | "converse-stream") && !seg(2).is_empty() {
        let model = percent_decode(seg(2)).into_owned();
        let stream = seg(1) == "converse-stream";
        return (Route::Bedrock(Bedrock { model, stream }), start(3));
    }
    if seg(2) == "models" {
        let last = percent_decode(seg(1));
        if let Some((model, method)) = last.rsplit_once(':') {
            let media_op = match method {
                "batchEmbedContents" => Some(Op::BatchEmbed),
                "predict" => Some(Op::Predict),
                _ => None,
            };
            let stream = match method {
                "generateContent" => false,
                "streamGenerateContent" => true,
                _ if media_op.is_some() => false,
                _ => return (Route::NotFound, 0),
            };
            if model.is_empty() {
                return (Route::NotFound, 0);
            }
            let vertex_at = segs
                .iter()
                .position(|(_, s)| *s == "projects")
                .filter(|&i| {
                    n >= 4
                        && seg(4) == "publishers"
                        && seg(3) == "google"
                        && i + 2 < n
                        && segs[i + 2].1 == "locations"
                });
            let (vertex, prefix) = match vertex_at {
                Some(i) => (true, segs[i].0),
                None => (false, start(2)),
            };
            if let Some(op) = media_op {
                let model = model.to_owned();
                let host = if vertex {
                    Host::Vertex { model }
                } else {
                    Host::Gemini { model }
                };
                return (Route::Media(Media { host, op }), prefix);
            }
            let gemini = Gemini {
                model: model.to_owned(),
                stream,
                sse: query_has(uri, "alt", "sse"),
                vertex,
            };
            return (Route::Gemini(gemini), prefix);
        }
    }
    if seg(1) == "token" {
        return (Route::Token, start(1));
    }
    (Route::NotFound, 0)
}

/// `…/files/img-*.png`, the images behind `url` answers.
fn is_file(path: &str) -> bool {
    let mut segs = path.rsplit('/');
    let name = segs.next().unwrap_or("");
    segs.next() == Some("files") && name.starts_with("img-") && name.ends_with(".png")
}

/// Whether the query string has `key=value`.
fn query_has(uri: &Uri, key: &str, value: &str) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&')
            .filter_map(|pair| pair.split_once('='))
            .any(|(k, v)| k == key && v == value)
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn post(uri: &str) -> (Route, String) {
        let uri: Uri = uri.parse().unwrap();
        let (r, len) = route(&Method::POST, &uri);
        (r, uri.path()[..len].to_owned())
    }

    #[test]
    fn openai_and_azure() {
        let (r, k) = post("/status=500/v1/chat/completions");
        assert!(matches!(r, Route::OpenAi));
        assert_eq!(k, "/status=500/v1");
        let (r, k) = post("/chat/completions");
        assert!(matches!(r, Route::OpenAi));
        assert_eq!(k, "");
        let (r, k) =
            post("/status=429/openai/deployments/gpt%2D4o/chat/completions?api-version=2024-10-21");
        assert!(matches!(r, Route::Azure { ref deployment } if deployment == "gpt-4o"));
        assert_eq!(k, "/status=429");
    }

    #[test]
    fn anthropic_bedrock_token() {
        let (r, k) = post("/ttft_ms=5/v1/messages");
        assert!(matches!(r, Route::Anthropic));
        assert_eq!(k, "/ttft_ms=5");
        let (r, k) = post("/ttft_ms=5/v1/messages/count_tokens");
        assert!(matches!(r, Route::AnthropicCountTokens));
        assert_eq!(k, "/ttft_ms=5");
        let (r, k) = post("/a=1/model/us.amazon.nova-micro-v1%3A0/converse-stream");
        assert!(
            matches!(r, Route::Bedrock(ref b) if b.model == "us.amazon.nova-micro-v1:0" && b.stream)
        );
        assert_eq!(k, "/a=1");
        let (r, _) = post("/model/x/converse");
        assert!(matches!(r, Route::Bedrock(ref b) if !b.stream));
        let (r, k) = post("/status=500/token");
        assert!(matches!(r, Route::Token));
        assert_eq!(k, "/status=500");
    }

    #[test]
    fn gemini_paths() {
        let (r, k) = post("/k=1/v1beta/models/gemini-2.0-flash:streamGenerateContent?alt=sse");
        let Route::Gemini(g) = r else { panic!() };
        assert!(g.stream && g.sse && !g.vertex);
        assert_eq!(g.model, "gemini-2.0-flash");
        assert_eq!(k, "/k=1/v1beta");
        let (r, k) = post(
            "/k=1/v1/projects/p/locations/us-central1/publishers/google/models/gemini-2.5-pro:generateContent",
        );
        let Route::Gemini(g) = r else { panic!() };
        assert!(!g.stream && g.vertex);
        assert_eq!(g.model, "gemini-2.5-pro");
        assert_eq!(k, "/k=1/v1");
        assert!(matches!(
            post("/v1beta/models/x:countTokens").0,
            Route::NotFound
        ));
        assert!(matches!(
            post("/v1beta/models/:generateContent").0,
            Route::NotFound
        ));
    }

    #[test]
    fn media_paths() {
        let op = |uri: &str| match post(uri) {
            (Route::Media(m), k) => (m.op, k, m.host),
            _ => panic!("{uri}"),
        };
        let (o, k, h) = op("/status=500/v1/embeddings");
        assert!(o == Op::Embeddings && k == "/status=500/v1" && matches!(h, Host::OpenAi));
        let (o, k, _) = op("/v1/images/generations");
        assert!(o == Op::Images && k == "/v1");
        let (o, _, _) = op("/v1/audio/transcriptions");
        assert_eq!(o, Op::Transcriptions);
        let (o, k, h) = op("/k=1/openai/deployments/tts%20hd/audio/speech?api-version=2024-10-21");
        assert!(o == Op::Speech && k == "/k=1");
        assert!(matches!(h, Host::Azure { ref deployment } if deployment == "tts hd"));
        let (o, k, h) = op("/openai/deployments/e/embeddings?api-version=2024-10-21");
        assert!(o == Op::Embeddings && k.is_empty() && matches!(h, Host::Azure { .. }));
        let (o, k, h) = op("/k=1/v1beta/models/gemini-embedding-001:batchEmbedContents");
        assert!(o == Op::BatchEmbed && k == "/k=1/v1beta");
        assert!(matches!(h, Host::Gemini { ref model } if model == "gemini-embedding-001"));
        let (o, _, h) = op(
            "/v1/projects/p/locations/l/publishers/google/models/imagen-4.0-generate-001:predict",
        );
        assert_eq!(o, Op::Predict);
        assert!(matches!(h, Host::Vertex { ref model } if model == "imagen-4.0-generate-001"));
        let (o, k, h) = op("/a=1/model/amazon.titan-embed-text-v2%3A0/invoke");
        assert!(o == Op::Invoke && k == "/a=1");
        assert!(
            matches!(h, Host::Bedrock { ref model } if model == "amazon.titan-embed-text-v2:0")
        );
        let uri: Uri = "/v1/files/img-3-0.png".parse().unwrap();
        assert!(matches!(route(&Method::GET, &uri).0, Route::File));
        let uri: Uri = "/v1/files/other.png".parse().unwrap();
        assert!(matches!(route(&Method::GET, &uri).0, Route::NotFound));
    }

    #[test]
    fn other_methods_and_paths() {
        let uri: Uri = "/v1/chat/completions".parse().unwrap();
        assert!(matches!(route(&Method::GET, &uri).0, Route::NotFound));
        assert!(matches!(route(&Method::PUT, &uri).0, Route::NotFound));
        let uri: Uri = "/v1/models".parse().unwrap();
        assert!(matches!(route(&Method::GET, &uri).0, Route::Models));
        assert!(matches!(post("/").0, Route::NotFound));
        assert!(matches!(post("/v1/nothing").0, Route::NotFound));
    }
}
