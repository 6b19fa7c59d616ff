"""The official OpenAI SDK's Responses API (`client.responses`) through the gateway.

Each request is translated to the serving provider through the canonical model (an
Anthropic-format upstream above all, as the issue asks), and stored responses are
continued with `previous_response_id`: the gateway keeps the conversation.
"""

import json
import time
import urllib.request

import openai
import pytest

from conftest import PROVIDER_MODELS

EXPECTED = "Hello from the Switchyard mock provider. Hello from the Switchyard mock"
WEATHER = {
    "type": "function",
    "name": "get_weather",
    "description": "Current weather in a city",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    },
    "strict": True,
}
models = pytest.mark.parametrize("model", PROVIDER_MODELS)


def upstream_requests(mock):
    with urllib.request.urlopen(f"http://{mock.addr}/_mock/requests", timeout=10) as r:
        return json.loads(r.read())


@models
def test_text(pclient, model):
    raw = pclient.responses.with_raw_response.create(model=model, input="Say hello", max_output_tokens=64)
    assert raw.headers["x-switchyard-deployment"].split("/")[0] == model.removeprefix("via-")
    r = raw.parse()
    assert r.object == "response"
    assert r.id.startswith("resp_")
    assert r.status == "completed"
    assert r.output_text == EXPECTED
    assert r.output[-1].type == "message"
    assert r.usage.output_tokens == 12
    assert r.usage.input_tokens > 0
    assert r.usage.total_tokens == r.usage.input_tokens + r.usage.output_tokens


@models
def test_stream(pclient, model):
    events = list(pclient.responses.create(model=model, input="Say hello", stream=True))
    kinds = [e.type for e in events]
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    assert "response.output_item.added" in kinds and "response.output_item.done" in kinds
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == EXPECTED
    done = events[-1].response
    assert done.output_text == EXPECTED
    assert done.usage.output_tokens == 12
    # Sequence numbers count every event.
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_instructions_and_structured_output(pclient):
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string"}},
        "required": ["city"],
        "additionalProperties": False,
    }
    r = pclient.responses.create(
        model="via-anthropic",
        instructions="Answer in JSON.",
        input="Where is it sunny?",
        text={"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}},
    )
    assert json.loads(r.output_text) == {"city": "mock"}


@pytest.mark.parametrize("model", ["via-anthropic", "via-openai", "via-bedrock"])
def test_function_call_then_previous_response_id(pclient, model):
    first = pclient.responses.create(model=model, input="What is the weather in Paris?", tools=[WEATHER])
    calls = [o for o in first.output if o.type == "function_call"]
    assert len(calls) == 1
    call = calls[0]
    assert call.name == "get_weather"
    assert json.loads(call.arguments) == {"city": "mock"}
    assert call.call_id
    second = pclient.responses.create(
        model=model,
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Sunny and 21C"}],
        tools=[WEATHER],
    )
    assert second.previous_response_id == first.id
    assert "Sunny and 21C" in second.output_text


def test_streamed_function_call_then_continue(pclient):
    events = list(
        pclient.responses.create(
            model="via-anthropic", input="What is the weather in Paris?", tools=[WEATHER], stream=True
        )
    )
    args = "".join(e.delta for e in events if e.type == "response.function_call_arguments.delta")
    assert json.loads(args) == {"city": "mock"}
    done = events[-1].response
    call = [o for o in done.output if o.type == "function_call"][0]
    second = pclient.responses.create(
        model="via-anthropic",
        previous_response_id=done.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "Rainy and 9C"}],
        tools=[WEATHER],
    )
    assert "Rainy and 9C" in second.output_text


def test_previous_response_carries_the_conversation(pclient, mock):
    first = pclient.responses.create(model="via-anthropic", instructions="Be brief.", input="My name is Ada.")
    pclient.responses.create(model="via-anthropic", previous_response_id=first.id, input="What is my name?")
    sent = [
        r
        for r in upstream_requests(mock)
        if r["path"].endswith("/v1/messages") and "What is my name?" in json.dumps(r.get("body"))
    ][-1]["body"]
    turns = [(m["role"], json.dumps(m["content"])) for m in sent["messages"]]
    assert turns[0][0] == "user" and "My name is Ada." in turns[0][1]
    assert turns[1][0] == "assistant" and "Switchyard mock" in turns[1][1]
    assert turns[2][0] == "user" and "What is my name?" in turns[2][1]
    # Instructions are not carried over from the earlier turn (as OpenAI does).
    assert "Be brief." not in json.dumps(sent.get("system", ""))


def test_retrieve_and_delete(pclient):
    r = pclient.responses.create(model="via-gemini", input="Say hello")
    got = pclient.responses.retrieve(r.id)
    assert got.id == r.id and got.output_text == EXPECTED
    pclient.responses.delete(r.id)
    with pytest.raises(openai.NotFoundError):
        pclient.responses.retrieve(r.id)
    with pytest.raises(openai.NotFoundError) as e:
        pclient.responses.create(model="via-gemini", previous_response_id=r.id, input="again")
    assert e.value.body["param"] == "previous_response_id"


def test_store_false_is_not_kept(pclient):
    r = pclient.responses.create(model="via-openai", input="Say hello", store=False)
    assert r.store is False
    with pytest.raises(openai.NotFoundError):
        pclient.responses.create(model="via-openai", previous_response_id=r.id, input="again")


def test_streamed_response_is_stored(pclient):
    events = list(pclient.responses.create(model="via-vertex", input="Say hello", stream=True))
    rid = events[-1].response.id
    # Written in the background once the stream completed.
    for _ in range(50):
        try:
            got = pclient.responses.retrieve(rid)
            break
        except openai.NotFoundError:
            time.sleep(0.05)
    assert got.output_text == EXPECTED


def test_refused_tools_and_bad_input(pclient):
    with pytest.raises(openai.BadRequestError) as e:
        pclient.responses.create(model="via-openai", input="hi", tools=[{"type": "web_search"}])
    assert e.value.body["param"] == "tools[0].type"
    with pytest.raises(openai.BadRequestError):
        pclient.responses.create(model="via-openai", input=[{"type": "mystery"}])
    with pytest.raises(openai.NotFoundError):
        pclient.responses.create(model="no-such-model", input="hi")
