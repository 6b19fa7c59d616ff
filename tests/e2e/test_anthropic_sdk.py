"""The official Anthropic SDK against `/v1/messages`, served by every provider kind.

`via-anthropic` reaches an Anthropic-format upstream, which gets the client's request
untranslated; every other model is translated through the canonical model and written
back as Anthropic messages and Anthropic SSE events.
"""

import json
import urllib.request

import anthropic
import pytest

from conftest import MASTER_KEY, PROVIDER_MODELS

EXPECTED = "Hello from the Switchyard mock provider. Hello from the Switchyard mock"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather in a city",
    "input_schema": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
    },
}
models = pytest.mark.parametrize("model", PROVIDER_MODELS)


@pytest.fixture()
def aclient(providers_gateway):
    return anthropic.Anthropic(base_url=f"http://{providers_gateway.addr}", api_key=MASTER_KEY, max_retries=0)


@models
def test_text(aclient, model):
    raw = aclient.messages.with_raw_response.create(
        model=model, max_tokens=64, messages=[{"role": "user", "content": "Say hello"}]
    )
    assert raw.headers["x-switchyard-deployment"].split("/")[0] == model.removeprefix("via-")
    m = raw.parse()
    assert m.type == "message"
    assert m.role == "assistant"
    assert m.id
    assert [b.type for b in m.content] == ["text"]
    assert m.content[0].text == EXPECTED
    assert m.stop_reason == "end_turn"
    assert m.usage.output_tokens == 12
    assert m.usage.input_tokens > 0


@models
def test_system_prompt_and_stream(aclient, model):
    events = []
    with aclient.messages.stream(
        model=model,
        max_tokens=64,
        system="You are terse.",
        messages=[{"role": "user", "content": "Say hello"}],
    ) as stream:
        for ev in stream:
            events.append(ev.type)
        text = stream.get_final_text()
        final = stream.get_final_message()
    assert text == EXPECTED
    assert events[0] == "message_start"
    assert events[-1] == "message_stop"
    assert "content_block_start" in events and "content_block_stop" in events
    assert "message_delta" in events
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 12
    assert final.usage.input_tokens > 0


@models
def test_tool_use_round_trip(aclient, model):
    ask = [{"role": "user", "content": "What is the weather in Paris?"}]
    first = aclient.messages.create(model=model, max_tokens=256, messages=ask, tools=[WEATHER])
    assert first.stop_reason == "tool_use"
    uses = [b for b in first.content if b.type == "tool_use"]
    assert len(uses) == 1
    use = uses[0]
    assert use.name == "get_weather"
    assert use.input == {"city": "mock"}
    assert use.id
    follow = ask + [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id, "content": "Sunny and 21C"}]},
    ]
    second = aclient.messages.create(model=model, max_tokens=256, messages=follow, tools=[WEATHER])
    assert second.stop_reason == "end_turn"
    assert "Sunny and 21C" in "".join(b.text for b in second.content if b.type == "text")


@models
def test_streamed_tool_use(aclient, model):
    with aclient.messages.stream(
        model=model,
        max_tokens=256,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=[WEATHER],
    ) as stream:
        deltas = [ev.partial_json for ev in stream if ev.type == "input_json"]
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    use = [b for b in final.content if b.type == "tool_use"][0]
    assert use.name == "get_weather"
    assert use.input == {"city": "mock"}
    assert json.loads("".join(deltas)) == {"city": "mock"}


def test_thinking_round_trips_natively(aclient, mock):
    # An Anthropic upstream gets the request as the client wrote it: thinking settings,
    # cache_control and betas reach it untouched.
    m = aclient.messages.create(
        model="via-anthropic",
        max_tokens=2048,
        thinking={"type": "enabled", "budget_tokens": 1024},
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": "Think, then say hello"}],
        extra_headers={"anthropic-beta": "interleaved-thinking-2025-05-14"},
    )
    kinds = [b.type for b in m.content]
    assert kinds[0] == "thinking" and kinds[-1] == "text"
    assert m.content[0].signature
    with urllib.request.urlopen(f"http://{mock.addr}/_mock/requests", timeout=10) as r:
        seen = json.loads(r.read())
    sent = [s for s in seen if s["path"].endswith("/v1/messages") and "Be brief." in json.dumps(s.get("body"))][-1]
    assert sent["body"]["model"] == "claude-sim"
    assert sent["body"]["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    assert sent["body"]["system"][0]["cache_control"] == {"type": "ephemeral"}
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["anthropic-beta"] == "interleaved-thinking-2025-05-14"
    assert headers["x-api-key"] == "sk-ant-up"


@pytest.mark.parametrize("model", ["via-openai", "via-gemini"])
def test_thinking_translated(aclient, model):
    m = aclient.messages.create(
        model=model,
        max_tokens=4096,
        thinking={"type": "enabled", "budget_tokens": 2048},
        messages=[{"role": "user", "content": "Think, then say hello"}],
    )
    assert m.content[-1].type == "text"
    assert m.stop_reason == "end_turn"


def test_errors_in_anthropic_shape(aclient, providers_gateway):
    with pytest.raises(anthropic.NotFoundError) as e:
        aclient.messages.create(model="no-such-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "not_found_error"
    assert "no-such-model" in e.value.body["error"]["message"]

    with pytest.raises(anthropic.BadRequestError) as e:
        aclient.messages.create(model="via-openai", max_tokens=8, messages=[{"role": "robot", "content": "hi"}])
    assert e.value.body["error"]["type"] == "invalid_request_error"
    assert "messages.0.role" in e.value.body["error"]["message"]

    bad = anthropic.Anthropic(base_url=f"http://{providers_gateway.addr}", api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError) as e:
        bad.messages.create(model="via-openai", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["error"]["type"] == "authentication_error"


def test_upstream_error_in_anthropic_shape(aclient):
    # A provider's 429 reaches the client as Anthropic's rate_limit_error.
    with pytest.raises(anthropic.RateLimitError) as e:
        aclient.messages.create(model="always-429", max_tokens=8, messages=[{"role": "user", "content": "hi"}])
    assert e.value.body["type"] == "error"
    assert e.value.body["error"]["type"] == "rate_limit_error"


def test_count_tokens(aclient):
    # Counted locally for a non-Anthropic model.
    local = aclient.messages.count_tokens(
        model="via-openai", messages=[{"role": "user", "content": "Hello, world"}], system="Be brief."
    )
    assert local.input_tokens > 0
    longer = aclient.messages.count_tokens(
        model="via-openai", messages=[{"role": "user", "content": "Hello, world " * 50}]
    )
    assert longer.input_tokens > local.input_tokens


def test_count_tokens_forwarded_to_anthropic(aclient, mock):
    # An Anthropic deployment counts with its own tokenizer: the question goes upstream.
    raw = aclient.messages.with_raw_response.count_tokens(
        model="via-anthropic",
        messages=[{"role": "user", "content": "Hello, world"}],
        extra_headers={"anthropic-beta": "token-counting-2024-11-01"},
    )
    assert raw.headers["x-switchyard-deployment"] == "anthropic/claude-sim"
    assert raw.parse().input_tokens > 0
    with urllib.request.urlopen(f"http://{mock.addr}/_mock/requests", timeout=10) as r:
        seen = json.loads(r.read())
    sent = [s for s in seen if s["path"].endswith("/v1/messages/count_tokens")][-1]
    assert sent["body"]["model"] == "claude-sim"
    headers = {k.lower(): v for k, v in sent["headers"].items()}
    assert headers["x-api-key"] == "sk-ant-up"
    assert headers["anthropic-beta"] == "token-counting-2024-11-01"
