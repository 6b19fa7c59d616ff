"""The official OpenAI Python SDK against the gateway, unchanged but for base_url and key."""

import json
import urllib.error
import urllib.request

import openai
import pytest

from conftest import MASTER_KEY

MESSAGES = [{"role": "user", "content": "Say hello"}]
EXPECTED = "Hello from the Switchyard mock provider. Hello from the Switchyard mock"


def test_non_stream(client):
    raw = client.chat.completions.with_raw_response.create(model="general", messages=MESSAGES)
    assert raw.headers["x-switchyard-deployment"] == "sim/sim-model"
    assert raw.headers["x-switchyard-attempts"] == "1"
    assert raw.headers["x-request-id"]
    completion = raw.parse()
    assert completion.choices[0].message.content == EXPECTED
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.completion_tokens == 12
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 12


def test_stream_with_usage(client):
    stream = client.chat.completions.create(
        model="general", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == EXPECTED
    assert chunks[-1].choices == []
    assert chunks[-1].usage.completion_tokens == 12
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop"


def test_stream_without_usage(client):
    chunks = list(client.chat.completions.create(model="general", messages=MESSAGES, stream=True))
    assert all(c.usage is None for c in chunks)
    assert all(c.choices for c in chunks)


def test_direct_provider_model(client):
    raw = client.chat.completions.with_raw_response.create(model="sim/other-id", messages=MESSAGES)
    assert raw.headers["x-switchyard-deployment"] == "sim/other-id"
    assert raw.parse().model == "other-id"


def test_models_list(client):
    ids = [m.id for m in client.models.list()]
    assert ids[:3] == ["general", "impatient", "priced"]
    assert "sim/sim-model" in ids


def test_unknown_model_is_not_found(client):
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="nope", messages=MESSAGES)
    assert e.value.code == "model_not_found"


def test_bad_key_is_authentication_error(gateway):
    bad = openai.OpenAI(base_url=f"http://{gateway.addr}/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="general", messages=MESSAGES)


def test_empty_messages_is_bad_request(client):
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="general", messages=[])
    assert e.value.param == "messages"


@pytest.mark.parametrize(
    "fault, exc, status",
    [
        ({"status": 429, "retry_after": "3"}, openai.RateLimitError, 429),
        ({"status": 403}, openai.PermissionDeniedError, 403),
        ({"status": 400, "error_message": "Unsupported parameter: 'foo'"}, openai.BadRequestError, 400),
        ({"status": 500}, openai.InternalServerError, 502),
    ],
)
def test_upstream_errors_map_to_sdk_exceptions(client, fault, exc, status):
    with pytest.raises(exc) as e:
        client.chat.completions.create(model="general", messages=MESSAGES, extra_body={"mock": fault})
    assert e.value.status_code == status
    if status == 429:
        assert e.value.response.headers["retry-after"] == "3"
    if status == 400:
        assert "Unsupported parameter" in e.value.message


def test_upstream_timeout_is_504(client):
    with pytest.raises(openai.InternalServerError) as e:
        client.chat.completions.create(model="impatient", messages=MESSAGES, extra_body={"mock": {"ttft_ms": 3000}})
    assert e.value.status_code == 504
    assert e.value.code == "upstream_timeout"


def test_mid_stream_failure_raises_api_error(client):
    stream = client.chat.completions.create(
        model="general", messages=MESSAGES, stream=True, extra_body={"mock": {"drop_after": 2}}
    )
    with pytest.raises(openai.APIError):
        for _ in stream:
            pass


def test_body_too_large_is_413(gateway):
    req = urllib.request.Request(
        f"http://{gateway.addr}/v1/chat/completions",
        data=b"{" + b" " * (100 * 1024) + b"}",
        headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 413
    assert json.loads(e.value.read())["error"]["code"] == "request_too_large"
