"""Property tests of the HTTP API against its own OpenAPI document (schemathesis).

GET /openapi.json is loaded from a running gateway (its models served by the mock
provider) and every documented operation is called with inputs generated from the
document: no input the document allows may get a 5xx, and every answer must be one the
document declares (status, content type, body schema).

    SWITCHYARD_BIN=target/debug/switchyard .venv/bin/python -m pytest tests/e2e/test_openapi.py -q

Not tested statelessly: the routes documented by path stubs whose handlers are not in
this tree yet (the router answers them 404 unknown_url, which their documentation does
not declare); they are skipped when the gateway does not serve them.
"""

import json
import os
import urllib.error
import urllib.request

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.control import SkipTest
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import MASTER_KEY

AUTH = {"Authorization": f"Bearer {MASTER_KEY}"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Examples per operation and mode: ~30 operations stay well under two minutes.
# OPENAPI_EXAMPLES=500 explores further (and OPENAPI_RANDOM=1 draws new inputs each run).
EXAMPLES = int(os.environ.get("OPENAPI_EXAMPLES", "25"))
DERANDOMIZE = os.environ.get("OPENAPI_RANDOM") != "1"


def served(addr, path):
    """Whether the gateway routes `path` (a pending stub answers 404 unknown_url)."""
    req = urllib.request.Request(f"http://{addr}{path}", data=b"{}", headers=AUTH, method="POST")
    try:
        urllib.request.urlopen(req, timeout=10).close()
        return True
    except urllib.error.HTTPError as e:
        body = e.read()
        return not (e.code == 404 and b"unknown_url" in body)


def load(openapi_gateway, mode):
    schema = schemathesis.openapi.from_url(f"http://{openapi_gateway.addr}/openapi.json")
    schema.config.generation.update(modes=[mode], with_security_parameters=False)
    pending = [
        p
        for p in schema.raw_schema["paths"]
        if p.startswith("/v1/") and not served(openapi_gateway.addr, p)
    ]
    for path in pending:
        schema = schema.exclude(path=path)
    return schema


@pytest.fixture(scope="session")
def positive_schema(openapi_gateway):
    return load(openapi_gateway, GenerationMode.POSITIVE)


@pytest.fixture(scope="session")
def negative_schema(openapi_gateway):
    return load(openapi_gateway, GenerationMode.NEGATIVE)


SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=DERANDOMIZE,
    database=None,
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


def has_inputs(op):
    raw = op.definition.raw
    return bool(raw.get("parameters") or raw.get("requestBody"))


def run_operations(schema, mode, checks, subtests):
    """Each operation in a subtest of its own: the document's examples first, then
    `EXAMPLES` generated inputs. (schemathesis' own pytest plugin does not work with
    pytest 9's nodes, so the cases are driven through hypothesis here.)"""
    operations = [r.ok() for r in schema.get_all_operations()]
    assert operations
    for op in operations:
        with subtests.test(msg=f"{op.method.upper()} {op.path}"):
            strategies = []
            if mode == GenerationMode.POSITIVE:
                strategies = schema.get_strategies_from_examples(op)
            strategies.append(op.as_strategy(generation_mode=mode))

            if mode == GenerationMode.NEGATIVE and not has_inputs(op):
                pytest.skip("nothing to negate: no parameters and no body")

            @given(case=st.one_of(*strategies) if len(strategies) > 1 else strategies[0])
            @SETTINGS
            def check(case):
                case.call_and_validate(headers=AUTH, checks=checks, timeout=30)

            try:
                check()
            except SkipTest as e:
                # String path parameters and nothing else: every value is valid.
                pytest.skip(str(e))


def test_valid_inputs_get_declared_answers(positive_schema, subtests):
    """Anything the document allows: no 5xx, and the answer is a declared one."""
    run_operations(positive_schema, GenerationMode.POSITIVE, CHECKS, subtests)


def test_invalid_inputs_are_refused(negative_schema, subtests):
    """Anything the document forbids: refused with a declared 4xx, never a 5xx."""
    run_operations(
        negative_schema, GenerationMode.NEGATIVE, [*CHECKS, negative_data_rejection], subtests
    )


def test_document_is_served_unauthenticated(openapi_gateway):
    with urllib.request.urlopen(f"http://{openapi_gateway.addr}/openapi.json", timeout=10) as r:
        assert r.headers["content-type"] == "application/json"
        assert r.headers["x-request-id"]
        doc = json.loads(r.read())
    assert doc["openapi"].startswith("3.1")
    assert "/v1/chat/completions" in doc["paths"] and "/admin/keys" in doc["paths"]


@pytest.mark.parametrize(
    "path", ["/v1/chat/completions", "/chat/completions", "/v1/messages", "/v1/messages/count_tokens"]
)
def test_documented_examples_are_served(openapi_gateway, path):
    """The request examples in the document work as written: served by the mock
    provider through the catalog's `general` model (the property tests start from them)."""
    addr = openapi_gateway.addr
    with urllib.request.urlopen(f"http://{addr}/openapi.json", timeout=10) as r:
        doc = json.loads(r.read())
    body = doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    name = body["$ref"].rsplit("/", 1)[-1]
    example = doc["components"]["schemas"][name]["example"]
    req = urllib.request.Request(
        f"http://{addr}{path}",
        data=json.dumps(example).encode(),
        headers={**AUTH, "content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
        answer = json.loads(r.read())
    if path.endswith("count_tokens"):
        assert answer["input_tokens"] > 0
    else:
        assert r.headers["x-switchyard-deployment"] == "sim/sim-model"
        assert answer["usage"]
