"""Virtual keys through the official OpenAI SDK: created with the admin API, then used
unchanged but for the key (scope, RPM with Retry-After and x-ratelimit-* headers, budget)."""

import json
import urllib.request

import openai
import pytest

from conftest import MASTER_KEY

MESSAGES = [{"role": "user", "content": "Say hello"}]


def create_key(gateway, **fields):
    req = urllib.request.Request(
        f"http://{gateway.addr}/admin/keys",
        data=json.dumps(fields).encode(),
        headers={"authorization": f"Bearer {MASTER_KEY}", "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 201
        return json.loads(r.read())


def client_for(gateway, key):
    return openai.OpenAI(base_url=f"http://{gateway.addr}/v1", api_key=key, max_retries=0)


def test_scope_and_rate_limit(gateway):
    created = create_key(gateway, name="sdk-scoped", models=["general"], rpm=2)
    assert created["key"].startswith("sk-sy-")
    c = client_for(gateway, created["key"])
    raw = c.chat.completions.with_raw_response.create(model="general", messages=MESSAGES)
    assert raw.headers["x-ratelimit-limit-requests"] == "2"
    assert raw.headers["x-ratelimit-remaining-requests"] == "1"
    assert raw.parse().choices[0].message.content
    # The models endpoint lists only what the key may use.
    assert [m.id for m in c.models.list()] == ["general"]
    with pytest.raises(openai.PermissionDeniedError) as e:
        c.chat.completions.create(model="impatient", messages=MESSAGES)
    assert e.value.code == "model_not_allowed"
    c.chat.completions.create(model="general", messages=MESSAGES)
    with pytest.raises(openai.RateLimitError) as e:
        c.chat.completions.create(model="general", messages=MESSAGES)
    assert int(e.value.response.headers["retry-after"]) >= 1
    assert e.value.response.headers["x-ratelimit-remaining-requests"] == "0"


def test_budget_exceeded_is_402(gateway):
    # A budget smaller than one request's worst case: refused before anything is sent.
    created = create_key(gateway, name="sdk-broke", budget_usd=0.0000001, budget_period="day")
    c = client_for(gateway, created["key"])
    # Unpriced model: its worst case costs nothing, so it passes.
    c.chat.completions.create(model="general", messages=MESSAGES)
    with pytest.raises(openai.APIStatusError) as e:
        c.chat.completions.create(model="priced", messages=MESSAGES, max_tokens=10)
    assert e.value.status_code == 402
    assert e.value.code == "budget_exceeded"
    req = urllib.request.Request(
        f"http://{gateway.addr}/admin/keys/{created['id']}",
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    with urllib.request.urlopen(req, timeout=10) as r:
        shown = json.loads(r.read())
    assert "key" not in shown and shown["budget_period"] == "day"


def test_revoked_key_is_refused(gateway):
    created = create_key(gateway, name="sdk-revoked")
    c = client_for(gateway, created["key"])
    c.chat.completions.create(model="general", messages=MESSAGES)
    req = urllib.request.Request(
        f"http://{gateway.addr}/admin/keys/{created['id']}",
        method="DELETE",
        headers={"authorization": f"Bearer {MASTER_KEY}"},
    )
    urllib.request.urlopen(req, timeout=10).close()
    with pytest.raises(openai.AuthenticationError):
        c.chat.completions.create(model="general", messages=MESSAGES)
