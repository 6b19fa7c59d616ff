"""The official OpenAI SDK through the gateway to every provider kind.

Each public model is served by the mock provider in one provider's own wire format
(OpenAI-compatible, Anthropic Messages, Gemini, Vertex AI with a minted OAuth token,
Azure OpenAI, Bedrock Converse with SigV4, Mistral's quirks), so each test shows that an
OpenAI client gets exactly what it would get from OpenAI, whichever provider serves it.
"""

import base64
import json
import urllib.request

import openai
import pytest

from conftest import PROVIDER_MODELS

MESSAGES = [{"role": "user", "content": "Say hello"}]
EXPECTED = "Hello from the Switchyard mock provider. Hello from the Switchyard mock"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
# A 1x1 PNG.
PIXEL = base64.b64encode(
    bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
    )
).decode()

models = pytest.mark.parametrize("model", PROVIDER_MODELS)
SERVED = {
    "via-openai": "gpt-sim",
    "via-anthropic": "claude-sim",
    "via-gemini": "gemini-sim",
    "via-vertex": "gemini-sim",
    "via-azure": "azure-deployment",
    "via-bedrock": "anthropic.claude-sim-v1:0",
    "via-mistral": "mistral-sim",
}


@models
def test_text(pclient, model):
    raw = pclient.chat.completions.with_raw_response.create(model=model, messages=MESSAGES, max_tokens=64)
    assert raw.headers["x-switchyard-deployment"].split("/")[0] == model.removeprefix("via-")
    c = raw.parse()
    assert c.object == "chat.completion"
    # The model that answered, as its provider named it (OpenAI does the same).
    assert c.model == SERVED[model]
    assert c.id
    assert c.choices[0].message.role == "assistant"
    assert c.choices[0].message.content == EXPECTED
    assert c.choices[0].finish_reason == "stop"
    assert c.usage.completion_tokens == 12
    assert c.usage.prompt_tokens > 0
    assert c.usage.total_tokens == c.usage.prompt_tokens + c.usage.completion_tokens


@models
def test_stream_with_usage(pclient, model):
    stream = pclient.chat.completions.create(
        model=model, messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert len({c.id for c in chunks}) == 1
    assert all(c.model == SERVED[model] for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == EXPECTED
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["stop"]
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 12
    assert chunks[-1].usage.total_tokens == chunks[-1].usage.prompt_tokens + 12
    assert all(c.usage is None for c in chunks[:-1])


@models
def test_stream_without_usage_has_none(pclient, model):
    chunks = list(pclient.chat.completions.create(model=model, messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


@models
def test_tool_call_round_trip(pclient, model):
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = pclient.chat.completions.create(model=model, messages=ask, tools=[WEATHER])
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "mock"}
    assert call.id

    follow = ask + [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny and 21C"},
    ]
    second = pclient.chat.completions.create(model=model, messages=follow, tools=[WEATHER])
    assert second.choices[0].finish_reason == "stop"
    assert "Sunny and 21C" in second.choices[0].message.content


@models
def test_streamed_tool_call_deltas(pclient, model):
    stream = pclient.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
        stream=True,
    )
    deltas = [tc for c in stream if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert deltas, "no tool call deltas"
    first = deltas[0]
    # OpenAI's shape: the first delta names the call; later ones carry only arguments.
    assert first.index == 0
    assert first.id
    assert first.type == "function"
    assert first.function.name == "get_weather"
    assert all(d.index == 0 for d in deltas)
    assert all(d.id is None and d.function.name is None for d in deltas[1:])
    args = "".join(d.function.arguments or "" for d in deltas)
    assert json.loads(args) == {"city": "mock"}


@models
def test_vision_base64(pclient, model):
    content = [
        {"type": "text", "text": "What is in this picture?"},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PIXEL}"}},
    ]
    c = pclient.chat.completions.create(model=model, messages=[{"role": "user", "content": content}])
    assert c.choices[0].message.content.startswith("I see 1 image")


@pytest.mark.parametrize("model", [m for m in PROVIDER_MODELS if m != "via-bedrock"])
def test_vision_by_url(pclient, model):
    content = [
        {"type": "text", "text": "Describe both."},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/dog.jpg"}},
    ]
    c = pclient.chat.completions.create(model=model, messages=[{"role": "user", "content": content}])
    assert c.choices[0].message.content.startswith("I see 2 images")


def test_bedrock_image_url_is_refused_by_name(pclient):
    content = [{"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]
    with pytest.raises(openai.BadRequestError) as e:
        pclient.chat.completions.create(model="via-bedrock", messages=[{"role": "user", "content": content}])
    assert e.value.param == "messages[0].content[0].image_url"


@models
def test_json_schema(pclient, model):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}, "temp": {"type": "number"}},
        "required": ["city", "temp"],
    }
    c = pclient.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "Weather as JSON"}],
        response_format={"type": "json_schema", "json_schema": {"name": "weather", "schema": schema}},
    )
    assert c.choices[0].finish_reason == "stop"
    assert not c.choices[0].message.tool_calls
    value = json.loads(c.choices[0].message.content)
    assert isinstance(value, dict)
    assert set(schema["required"]) <= set(value)


@models
def test_reasoning(pclient, model):
    c = pclient.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "Think, then answer"}], reasoning_effort="low"
    )
    message = c.choices[0].message
    assert message.content == EXPECTED
    reasoning = (message.model_extra or {}).get("reasoning_content")
    assert reasoning, f"no reasoning_content in {message}"
    assert c.usage.completion_tokens > 12


@models
def test_reasoning_stream(pclient, model):
    chunks = list(
        pclient.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Think, then answer"}],
            reasoning_effort="low",
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or "" for c in chunks if c.choices
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reasoning
    assert text == EXPECTED
    assert chunks[-1].usage.completion_tokens > 12


@pytest.mark.parametrize("model", ["via-anthropic", "via-gemini", "via-bedrock"])
def test_unsupported_parameter_is_named_unless_dropped(pclient, model):
    with pytest.raises(openai.BadRequestError) as e:
        pclient.chat.completions.create(model=model, messages=MESSAGES, logit_bias={"50256": -100})
    assert e.value.param == "logit_bias"
    assert "drop_params" in e.value.message
    c = pclient.chat.completions.create(
        model=model, messages=MESSAGES, logit_bias={"50256": -100}, extra_body={"drop_params": True}
    )
    assert c.choices[0].message.content == EXPECTED


def test_upstream_credentials_and_paths(pclient, mock, providers_gateway):
    for model in PROVIDER_MODELS:
        pclient.chat.completions.create(model=model, messages=MESSAGES)
    pclient.chat.completions.create(model="via-mistral", messages=MESSAGES, seed=7)
    with urllib.request.urlopen(f"http://{mock.addr}/_mock/requests", timeout=10) as r:
        seen = json.loads(r.read())
    by_path = {}
    for req in seen:
        by_path.setdefault(req["path"], req)

    def find(fragment):
        for path, req in by_path.items():
            if fragment in path:
                return req
        raise AssertionError(f"no upstream request to {fragment}: {list(by_path)}")

    headers = lambda req: {k.lower(): v for k, v in req["headers"].items()}  # noqa: E731
    ant = find("/v1/messages")
    assert headers(ant)["x-api-key"] == "sk-ant-up"
    assert headers(ant)["anthropic-version"] == "2023-06-01"
    gem = find("/v1beta/models/gemini-sim:generateContent")
    assert headers(gem)["x-goog-api-key"] == "gem-up"
    vtx = find("/v1/projects/e2e-project/locations/us-central1/publishers/google/models/gemini-sim:generateContent")
    assert headers(vtx)["authorization"].startswith("Bearer ya29.")
    az = find("/openai/deployments/azure-deployment/chat/completions")
    assert headers(az)["api-key"] == "az-up"
    br = find("/converse")
    assert headers(br)["authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDE2E/")
    assert "x-amz-date" in headers(br)
    # Mistral names OpenAI's `seed` differently.
    mi = [r for r in seen if r["path"].endswith("/chat/completions") and (r.get("body") or {}).get("model") == "mistral-sim"]
    assert mi and mi[-1]["body"].get("random_seed") == 7 and "seed" not in mi[-1]["body"]
