//! Embeddings, images and audio on every host.

use std::time::{Duration, Instant};

use base64::Engine as _;
use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::common::{read_all, recorded, sigv4, start, stats, vertex_token, wait_stats};

async fn post_json(client: &reqwest::Client, url: String, body: &Value) -> (u16, Value) {
    let resp = client.post(url).json(body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

fn b64_f32(s: &str) -> Vec<f32> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).unwrap();
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect()
}

#[tokio::test]
async fn openai_embeddings_float_base64_and_dimensions() {
    let (base, client) = start().await;
    let (s, v) = post_json(
        &client,
        format!("{base}/v1/embeddings"),
        &json!({"model": "text-embedding-3-small", "input": ["Hello, world!", "again"]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["object"], "list");
    assert_eq!(v["model"], "text-embedding-3-small");
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    assert_eq!(v["data"][1]["index"], 1);
    assert_eq!(v["data"][0]["object"], "embedding");
    let first = v["data"][0]["embedding"].as_array().unwrap().clone();
    assert_eq!(first.len(), 8);
    // ceil(13/4) + ceil(5/4)
    assert_eq!(v["usage"], json!({"prompt_tokens": 6, "total_tokens": 6}));

    // Same input, same vector; base64 holds the same floats; `dimensions` sizes it.
    let (_, b) = post_json(
        &client,
        format!("{base}/status=0/v1/embeddings"),
        &json!({"model": "m", "input": "Hello, world!", "encoding_format": "base64", "dimensions": 3}),
    )
    .await;
    let floats = b64_f32(b["data"][0]["embedding"].as_str().unwrap());
    assert_eq!(floats.len(), 3);
    let (_, f) = post_json(
        &client,
        format!("{base}/v1/embeddings"),
        &json!({"model": "m", "input": "Hello, world!", "dimensions": 3}),
    )
    .await;
    let plain: Vec<f32> = f["data"][0]["embedding"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect();
    assert_eq!(floats, plain);
    assert_eq!(
        first[..3],
        f["data"][0]["embedding"].as_array().unwrap()[..3]
    );

    // Token arrays, and the 400s.
    let (s, v) = post_json(
        &client,
        format!("{base}/v1/embeddings"),
        &json!({"model": "m", "input": [[1, 2], [3]]}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["usage"]["prompt_tokens"], 3);
    let (s, v) = post_json(
        &client,
        format!("{base}/v1/embeddings"),
        &json!({"model": "m"}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["param"], "input");
    let (s, v) = post_json(
        &client,
        format!("{base}/v1/embeddings"),
        &json!({"model": "m", "input": "x", "encoding_format": "int8"}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["param"], "encoding_format");
}

#[tokio::test]
async fn faults_and_recording_on_media_paths() {
    let (base, client) = start().await;
    let body = json!({"model": "m", "input": "x"});
    let resp = client
        .post(format!(
            "{base}/status=429,fail_times=1,retry_after=2/v1/embeddings"
        ))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "2");
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "rate_limit_exceeded");
    let (s, _) = post_json(
        &client,
        format!("{base}/status=429,fail_times=1,retry_after=2/v1/embeddings"),
        &body,
    )
    .await;
    assert_eq!(s, 200);
    // Header and body knobs.
    let resp = client
        .post(format!("{base}/v1/images/generations"))
        .header("x-mock-status", "500")
        .json(&json!({"model": "dall-e-3", "prompt": "a cat"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 500);
    let (s, _) = post_json(
        &client,
        format!("{base}/v1/images/generations"),
        &json!({"model": "dall-e-3", "prompt": "a cat", "mock": {"status": 503}}),
    )
    .await;
    assert_eq!(s, 503);
    let (s, v) = post_json(
        &client,
        format!("{base}/v1/images/generations"),
        &json!({"model": "dall-e-3", "prompt": "a cat", "mock": {"content_filter": "prompt"}}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["code"], "content_policy_violation");
    // ttft_ms delays the answer.
    let t = Instant::now();
    let (s, _) = post_json(&client, format!("{base}/ttft_ms=60/v1/embeddings"), &body).await;
    assert_eq!(s, 200);
    assert!(t.elapsed() >= Duration::from_millis(60));

    let rec = recorded(&base, &client).await;
    let last = rec.last().unwrap();
    assert_eq!(last["format"], "openai");
    assert_eq!(last["path"], "/ttft_ms=60/v1/embeddings");
    assert_eq!(last["body"], body);
    let st = stats(&base, &client).await;
    assert_eq!(st["formats"]["openai"], 6);
}

#[tokio::test]
async fn openai_images_url_b64_and_usage() {
    let (base, client) = start().await;
    let (s, v) = post_json(
        &client,
        format!("{base}/v1/images/generations"),
        &json!({"model": "dall-e-3", "prompt": "a red fox", "size": "1024x1024"}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert!(v["created"].as_u64().unwrap() > 0);
    let url = v["data"][0]["url"].as_str().unwrap();
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with(".png"),
        "{url}"
    );
    assert_eq!(v["data"][0]["revised_prompt"], "mock revised: a red fox");
    // The url serves the PNG.
    let resp = client.get(url).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/png");
    let png = resp.bytes().await.unwrap();
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));

    let (s, v) = post_json(
        &client,
        format!("{base}/v1/images/generations"),
        &json!({"model": "dall-e-2", "prompt": "x", "n": 2, "response_format": "b64_json"}),
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(v["data"].as_array().unwrap().len(), 2);
    let b = base64::engine::general_purpose::STANDARD
        .decode(v["data"][1]["b64_json"].as_str().unwrap())
        .unwrap();
    assert!(b.starts_with(b"\x89PNG"));
    assert!(v.get("usage").is_none());

    // gpt-image-1: base64 always, with token usage.
    let (_, v) = post_json(
        &client,
        format!("{base}/v1/images/generations"),
        &json!({"model": "gpt-image-1", "prompt": "a red fox"}),
    )
    .await;
    assert!(v["data"][0]["b64_json"].is_string());
    assert_eq!(v["usage"]["input_tokens"], 3);
    assert_eq!(v["usage"]["output_tokens"], 272);
    assert_eq!(v["usage"]["input_tokens_details"]["text_tokens"], 3);

    let (s, v) = post_json(
        &client,
        format!("{base}/v1/images/generations"),
        &json!({"model": "dall-e-3", "prompt": "x", "n": 2}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["param"], "n");
    let (s, v) = post_json(
        &client,
        format!("{base}/v1/images/generations"),
        &json!({"model": "dall-e-3"}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["param"], "prompt");
}

fn multipart(fields: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "mockboundary7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, filename, data) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match filename {
            Some(f) => body.extend_from_slice(
                format!(
                    "Content-Disposition: form-data; name=\"{name}\"; filename=\"{f}\"\r\nContent-Type: audio/wav\r\n\r\n"
                )
                .as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

async fn transcribe(
    client: &reqwest::Client,
    url: String,
    fields: &[(&str, Option<&str>, &[u8])],
) -> reqwest::Response {
    let (ct, body) = multipart(fields);
    client
        .post(url)
        .header("content-type", ct)
        .header("api-key", "k")
        .body(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn transcriptions_in_every_format() {
    let (base, client) = start().await;
    let audio = vec![0u8; 32_000];
    let url = format!("{base}/v1/audio/transcriptions");
    let resp = transcribe(
        &client,
        url.clone(),
        &[
            ("file", Some("a.wav"), &audio),
            ("model", None, b"whisper-1"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["text"], "transcribed 32000 bytes of a.wav");
    assert_eq!(v["usage"], json!({"type": "duration", "seconds": 2}));

    let resp = transcribe(
        &client,
        url.clone(),
        &[
            ("model", None, b"whisper-1"),
            ("response_format", None, b"verbose_json"),
            ("file", Some("b.mp3"), &audio[..8_000]),
        ],
    )
    .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["duration"], 0.5);
    assert_eq!(v["text"], "transcribed 8000 bytes of b.mp3");
    assert_eq!(v["segments"][0]["end"], 0.5);

    let resp = transcribe(
        &client,
        url.clone(),
        &[
            ("model", None, b"whisper-1"),
            ("response_format", None, b"text"),
            ("file", Some("c.wav"), b"abcd"),
        ],
    )
    .await;
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(resp.text().await.unwrap(), "transcribed 4 bytes of c.wav\n");

    // gpt-4o-transcribe reports token usage.
    let resp = transcribe(
        &client,
        url.clone(),
        &[
            ("model", None, b"gpt-4o-transcribe"),
            ("file", Some("d.wav"), &audio),
        ],
    )
    .await;
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["usage"]["type"], "tokens");
    assert_eq!(v["usage"]["input_token_details"]["audio_tokens"], 21);

    // Refusals: no file, a bad format, not multipart.
    let resp = transcribe(&client, url.clone(), &[("model", None, b"whisper-1")]).await;
    assert_eq!(resp.status(), 400);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["param"], "file");
    let resp = transcribe(
        &client,
        url.clone(),
        &[
            ("model", None, b"whisper-1"),
            ("response_format", None, b"docx"),
            ("file", Some("c.wav"), b"abcd"),
        ],
    )
    .await;
    assert_eq!(resp.status(), 400);
    let resp = client
        .post(url)
        .json(&json!({"model": "whisper-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    // Recorded as fields, files by size.
    let rec = recorded(&base, &client).await;
    let first = &rec[0]["body"]["multipart"];
    assert_eq!(
        first[0],
        json!({"name": "file", "size": 32000, "filename": "a.wav", "content_type": "audio/wav"})
    );
    assert_eq!(
        first[1],
        json!({"name": "model", "size": 9, "value": "whisper-1"})
    );
}

#[tokio::test]
async fn azure_media_paths_require_version_and_key() {
    let (base, client) = start().await;
    let path = "/openai/deployments/emb-prod/embeddings";
    let resp = client
        .post(format!("{base}{path}?api-version=2024-10-21"))
        .header("api-key", "k")
        .json(&json!({"input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["model"], "emb-prod");
    let resp = client
        .post(format!("{base}{path}?api-version=2024-10-21"))
        .json(&json!({"input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
    let resp = client
        .post(format!("{base}{path}"))
        .header("api-key", "k")
        .json(&json!({"input": "hi"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 404);

    for (op, body) in [
        (
            "images/generations",
            json!({"prompt": "x", "response_format": "b64_json"}),
        ),
        ("audio/speech", json!({"input": "hello", "voice": "alloy"})),
    ] {
        let resp = client
            .post(format!(
                "{base}/status=0/openai/deployments/d1/{op}?api-version=2025-04-01-preview"
            ))
            .bearer_auth("entra")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200, "{op}");
    }
    let resp = transcribe(
        &client,
        format!("{base}/openai/deployments/whisper/audio/transcriptions?api-version=2024-10-21"),
        &[("file", Some("a.wav"), b"1234")],
    )
    .await;
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["text"], "transcribed 4 bytes of a.wav");
    let st = stats(&base, &client).await;
    assert_eq!(st["formats"]["azure"], 6);
}

#[tokio::test]
async fn speech_streams_in_chunks() {
    let (base, client) = start().await;
    let t = Instant::now();
    let resp = client
        .post(format!("{base}/delay_ms=30/v1/audio/speech"))
        .json(&json!({"model": "tts-1", "input": "hello", "voice": "alloy"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "audio/mpeg");
    let mut stream = resp.bytes_stream();
    let mut chunks = Vec::new();
    while let Some(c) = stream.next().await {
        chunks.push(c.unwrap());
    }
    let total: usize = chunks.iter().map(|c| c.len()).sum();
    assert_eq!(total, 4 * 5);
    assert!(chunks.len() >= 2, "streamed in pieces");
    assert!(t.elapsed() >= Duration::from_millis(90));
    wait_stats(&base, &client, |s| s["completed"] == 1).await;

    let resp = client
        .post(format!("{base}/v1/audio/speech"))
        .json(&json!({"model": "tts-1", "input": "hello", "voice": "alloy", "response_format": "wav", "mock": {"drop_after": 2}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["content-type"], "audio/wav");
    let (body, aborted) = read_all(resp).await;
    assert!(aborted);
    assert_eq!(body.len(), 10);
    let st = wait_stats(&base, &client, |s| s["aborted"] == 1).await;
    assert_eq!(st["aborted"], 1);

    let (s, v) = post_json(
        &client,
        format!("{base}/v1/audio/speech"),
        &json!({"model": "tts-1", "input": "hello"}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["param"], "voice");
}

#[tokio::test]
async fn gemini_batch_embed_and_imagen() {
    let (base, client) = start().await;
    let (s, v) = post_json(
        &client,
        format!("{base}/v1beta/models/gemini-embedding-001:batchEmbedContents"),
        &json!({"requests": [
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "a"}]}, "outputDimensionality": 4},
            {"model": "models/gemini-embedding-001", "content": {"parts": [{"text": "b"}]}}
        ]}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["embeddings"][0]["values"].as_array().unwrap().len(), 4);
    assert_eq!(v["embeddings"][1]["values"].as_array().unwrap().len(), 8);
    let (s, v) = post_json(
        &client,
        format!("{base}/v1beta/models/gemini-embedding-001:batchEmbedContents"),
        &json!({"requests": [{"model": "models/other", "content": {"parts": [{"text": "a"}]}}]}),
    )
    .await;
    assert_eq!(s, 400);
    assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");

    let (s, v) = post_json(
        &client,
        format!("{base}/v1beta/models/imagen-4.0-generate-001:predict"),
        &json!({"instances": [{"prompt": "a cat"}], "parameters": {"sampleCount": 2, "aspectRatio": "16:9"}}),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["predictions"].as_array().unwrap().len(), 2);
    assert_eq!(v["predictions"][0]["mimeType"], "image/png");
    assert!(v["predictions"][0]["bytesBase64Encoded"].is_string());
    let (s, _) = post_json(
        &client,
        format!("{base}/v1beta/models/imagen-4.0-generate-001:predict"),
        &json!({"instances": [{"prompt": "a cat"}], "parameters": {"aspectRatio": "3:2"}}),
    )
    .await;
    assert_eq!(s, 400);
    // Faults in Google's shape.
    let (s, v) = post_json(
        &client,
        format!("{base}/status=429/v1beta/models/imagen-4.0-generate-001:predict"),
        &json!({"instances": [{"prompt": "a cat"}]}),
    )
    .await;
    assert_eq!(s, 429);
    assert_eq!(v["error"]["status"], "RESOURCE_EXHAUSTED");
    assert_eq!(stats(&base, &client).await["formats"]["gemini"], 5);
}

#[tokio::test]
async fn vertex_predict_needs_a_token() {
    let (base, client) = start().await;
    let url = format!(
        "{base}/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict"
    );
    let body = json!({"instances": [{"content": "hello"}, {"content": "hi"}], "parameters": {"outputDimensionality": 5}});
    let resp = client.post(&url).json(&body).send().await.unwrap();
    assert_eq!(resp.status(), 401);
    let token = vertex_token(&base, &client).await;
    let resp = client
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(
        v["predictions"][0]["embeddings"]["values"]
            .as_array()
            .unwrap()
            .len(),
        5
    );
    assert_eq!(
        v["predictions"][0]["embeddings"]["statistics"]["token_count"],
        2
    );
    assert_eq!(v["metadata"]["billableCharacterCount"], 7);

    // gemini-embedding-001 takes one instance per call on Vertex.
    let g = url.replace("text-embedding-005", "gemini-embedding-001");
    let resp = client
        .post(&g)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);

    let imagen = url.replace("text-embedding-005", "imagen-3.0-generate-002");
    let resp = client
        .post(&imagen)
        .bearer_auth(&token)
        .json(&json!({"instances": [{"prompt": "x"}], "parameters": {"sampleCount": 1, "outputOptions": {"mimeType": "image/jpeg"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["predictions"][0]["mimeType"], "image/jpeg");
    assert_eq!(stats(&base, &client).await["formats"]["vertex"], 4);
}

#[tokio::test]
async fn bedrock_invoke_titan_and_cohere() {
    let (base, client) = start().await;
    let titan = format!("{base}/model/amazon.titan-embed-text-v2%3A0/invoke");
    let resp = client
        .post(&titan)
        .json(&json!({"inputText": "hello world"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = sigv4(client.post(&titan))
        .json(&json!({"inputText": "hello world", "dimensions": 256}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["embedding"].as_array().unwrap().len(), 256);
    assert_eq!(v["inputTextTokenCount"], 3);
    let resp = sigv4(client.post(&titan))
        .json(&json!({"inputText": "x", "dimensions": 7}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-amzn-errortype"], "ValidationException");

    let cohere = format!("{base}/model/cohere.embed-english-v3/invoke");
    let resp = sigv4(client.post(&cohere))
        .json(&json!({"texts": ["a", "b"], "input_type": "search_document"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["embeddings"].as_array().unwrap().len(), 2);
    assert_eq!(v["response_type"], "embeddings_floats");
    let resp = sigv4(client.post(&cohere))
        .json(&json!({"texts": ["a"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = sigv4(client.post(format!("{base}/model/amazon.nova-micro-v1%3A0/invoke")))
        .json(&json!({"inputText": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let resp = sigv4(client.post(format!(
        "{base}/status=429/model/cohere.embed-english-v3/invoke"
    )))
    .json(&json!({"texts": ["a"], "input_type": "search_query"}))
    .send()
    .await
    .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["x-amzn-errortype"], "ThrottlingException");
    assert_eq!(stats(&base, &client).await["formats"]["bedrock"], 7);
}
