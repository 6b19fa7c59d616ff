"""Embeddings, images, transcription and speech through the official OpenAI SDK, each
served by the mock provider in the wire format of every provider that can serve it,
with scopes, budgets, fallbacks and cost applied as for chat."""

import base64
import json
import struct
import urllib.request

import openai
import pytest

from conftest import MASTER_KEY

EMBEDDERS = [
    "openai/text-embedding-3-small",
    "azure/embed-deployment",
    "gemini/gemini-embedding-001",
    "vertex/text-embedding-005",
    "bedrock/amazon.titan-embed-text-v2:0",
    "bedrock/cohere.embed-english-v3",
]
IMAGERS = [
    "openai/gpt-image-1",
    "azure/image-deployment",
    "gemini/imagen-4.0-generate-001",
    "vertex/imagen-4.0-generate-001",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def create_key(gateway, **fields):
    req = urllib.request.Request(
        f"http://{gateway.addr}/admin/keys",
        data=json.dumps(fields).encode(),
        headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.parametrize("model", EMBEDDERS)
def test_embeddings(pclient, model):
    # Titan v2 takes 256, 512 or 1024 dimensions; Cohere v3 has a fixed size.
    dims = {"bedrock/amazon.titan-embed-text-v2:0": 256, "bedrock/cohere.embed-english-v3": None}.get(model, 8)
    extra = {} if dims is None else {"dimensions": dims}
    raw = pclient.embeddings.with_raw_response.create(model=model, input=["first text", "second text"], **extra)
    assert raw.headers["x-switchyard-deployment"] == model
    e = raw.parse()
    assert e.object == "list"
    assert [d.index for d in e.data] == [0, 1]
    sizes = {len(d.embedding) for d in e.data}
    assert len(sizes) == 1 and (dims is None or sizes == {dims})
    assert e.data[0].embedding != e.data[1].embedding
    assert e.usage.prompt_tokens > 0
    # Deterministic: the same text embeds the same.
    again = pclient.embeddings.create(model=model, input="first text", **extra)
    assert again.data[0].embedding == pytest.approx(e.data[0].embedding)


@pytest.mark.parametrize("model", ["openai/text-embedding-3-small", "gemini/gemini-embedding-001"])
def test_embeddings_base64(pclient, model):
    raw = pclient.embeddings.with_raw_response.create(
        model=model, input="hello", dimensions=4, encoding_format="base64"
    )
    body = json.loads(raw.http_response.text)
    vec = struct.unpack("<4f", base64.b64decode(body["data"][0]["embedding"]))
    floats = pclient.embeddings.create(model=model, input="hello", dimensions=4)
    assert list(vec) == pytest.approx(floats.data[0].embedding)


def test_embeddings_refused_and_fallback(pclient):
    with pytest.raises(openai.BadRequestError) as e:
        pclient.embeddings.create(model="anthropic/claude-sim", input="hello")
    assert e.value.body["param"] == "model"
    # The pool's upstream answers 429; the rate_limit fallback serves.
    raw = pclient.embeddings.with_raw_response.create(model="embed-pool", input="hello")
    assert raw.headers["x-switchyard-fallback"] == "embed-gemini"
    assert len(raw.parse().data) == 1


@pytest.mark.parametrize("model", IMAGERS)
def test_images_b64(pclient, model):
    raw = pclient.images.with_raw_response.generate(
        model=model, prompt="a lighthouse", n=2, size="1024x1024", response_format="b64_json"
    )
    assert raw.headers["x-switchyard-deployment"] == model
    img = raw.parse()
    assert len(img.data) == 2
    assert all(base64.b64decode(d.b64_json).startswith(PNG_MAGIC) for d in img.data)


def test_images_url_and_cost(pclient):
    raw = pclient.images.with_raw_response.generate(model="priced-images", prompt="a lighthouse", response_format="url")
    img = raw.parse()
    assert img.data[0].url.startswith("http://")
    with urllib.request.urlopen(img.data[0].url, timeout=10) as r:
        assert r.read().startswith(PNG_MAGIC)
    assert float(raw.headers["x-switchyard-cost-usd"]) == pytest.approx(0.5)
    # Imagen has no URLs: refused by name.
    with pytest.raises(openai.BadRequestError) as e:
        pclient.images.generate(model="gemini/imagen-4.0-generate-001", prompt="x", response_format="url")
    assert e.value.body["param"] == "response_format"


@pytest.mark.parametrize("model", ["openai/whisper-1", "azure/whisper-deployment"])
def test_transcription(pclient, model):
    audio = b"RIFF" + bytes(32000)
    t = pclient.audio.transcriptions.create(model=model, file=("speech.wav", audio, "audio/wav"))
    assert t.text == f"transcribed {len(audio)} bytes of speech.wav"
    text = pclient.audio.transcriptions.create(
        model=model, file=("speech.wav", audio, "audio/wav"), response_format="text"
    )
    assert text.strip() == f"transcribed {len(audio)} bytes of speech.wav"
    verbose = pclient.audio.transcriptions.create(
        model=model, file=("speech.wav", audio, "audio/wav"), response_format="verbose_json"
    )
    assert verbose.duration == pytest.approx(len(audio) / 16000)


def test_transcription_refused_on_gemini(pclient):
    with pytest.raises(openai.BadRequestError) as e:
        pclient.audio.transcriptions.create(model="gemini/gemini-sim", file=("a.wav", b"RIFF0000", "audio/wav"))
    assert e.value.body["param"] == "model"


@pytest.mark.parametrize("model", ["openai/tts-1", "azure/tts-deployment"])
def test_speech_streams_audio(pclient, model):
    text = "Hello there"
    chunks = []
    with pclient.audio.speech.with_streaming_response.create(model=model, voice="alloy", input=text) as r:
        assert r.headers["content-type"].startswith("audio/")
        assert r.headers["x-switchyard-deployment"] == model
        for chunk in r.iter_bytes():
            chunks.append(chunk)
    audio = b"".join(chunks)
    assert len(audio) == 4 * len(text)


def test_scope_applies_to_every_route(providers_gateway):
    created = create_key(providers_gateway, name="embed-only", models=["priced-embed"])
    c = openai.OpenAI(base_url=f"http://{providers_gateway.addr}/v1", api_key=created["key"], max_retries=0)
    assert c.embeddings.create(model="priced-embed", input="hi").data
    denied = [
        lambda: c.images.generate(model="priced-images", prompt="x"),
        lambda: c.embeddings.create(model="openai/text-embedding-3-small", input="hi"),
        lambda: c.audio.transcriptions.create(model="openai/whisper-1", file=("a.wav", b"RIFF0000", "audio/wav")),
        lambda: c.audio.speech.create(model="openai/tts-1", voice="alloy", input="hi"),
        lambda: c.responses.create(model="via-openai", input="hi"),
        lambda: c.chat.completions.create(model="via-openai", messages=[{"role": "user", "content": "hi"}]),
    ]
    for call in denied:
        with pytest.raises(openai.PermissionDeniedError) as e:
            call()
        assert e.value.code == "model_not_allowed"
    import anthropic

    a = anthropic.Anthropic(base_url=f"http://{providers_gateway.addr}", api_key=created["key"], max_retries=0)
    with pytest.raises(anthropic.PermissionDeniedError) as e:
        a.messages.create(model="via-anthropic", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["error"]["type"] == "permission_error"


def test_budget_applies_to_media(providers_gateway):
    created = create_key(providers_gateway, name="image-budget", budget_usd=0.2, budget_period="day")
    c = openai.OpenAI(base_url=f"http://{providers_gateway.addr}/v1", api_key=created["key"], max_retries=0)
    c.images.generate(model="priced-images", prompt="x")
    # 0.5 spent of 0.2: every route now refuses, whatever it would cost.
    for call in [
        lambda: c.images.generate(model="priced-images", prompt="x"),
        lambda: c.embeddings.create(model="priced-embed", input="hi"),
        lambda: c.audio.speech.create(model="openai/tts-1", voice="alloy", input="hi"),
        lambda: c.responses.create(model="via-openai", input="hi"),
    ]:
        with pytest.raises(openai.APIStatusError) as e:
            call()
        assert e.value.status_code == 402
        assert e.value.code == "budget_exceeded"
