"""Starts the real `switchyard` binary and its mock provider for the SDK tests.

The binary comes from $SWITCHYARD_BIN, else target/debug/switchyard (built by scripts/test).
"""

import json
import os
import re
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = os.environ.get("SWITCHYARD_BIN", str(ROOT / "target" / "debug" / "switchyard"))
MASTER_KEY = "sk-e2e-master"


class Proc:
    def __init__(self, args, marker, env=None):
        self.lines = []
        self.proc = subprocess.Popen(
            [BIN, *args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "RUST_LOG": "info", **(env or {})},
        )
        found = threading.Event()
        self.addr = None

        def drain():
            for line in self.proc.stderr:
                self.lines.append(line)
                if self.addr is None and marker in line:
                    m = re.search(r"addr=(\S+)", line)
                    if m:
                        self.addr = m.group(1)
                        found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(30):
            self.stop()
            raise RuntimeError(f"{args[0]} did not start:\n{''.join(self.lines)}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@pytest.fixture(scope="session")
def mock():
    p = Proc(["mock-provider", "--listen", "127.0.0.1:0", "--record"], "mock provider listening")
    yield p
    p.stop()


@pytest.fixture(scope="session")
def gateway(mock):
    tmp = Path(tempfile.mkdtemp(prefix="switchyard-e2e-"))
    config = tmp / "switchyard.yaml"
    config.write_text(
        f"""
master_key: ${{E2E_MASTER_KEY}}
providers:
  sim:
    kind: openai_compatible
    base_url: http://{mock.addr}/v1
    api_key: sim-upstream-key
models:
  - name: general
    deployments:
      - provider: sim
        model: sim-model
  - name: impatient
    deployments:
      - provider: sim
        model: sim-model
        timeout: 300ms
  - name: priced
    deployments:
      - provider: sim
        model: sim-model
        pricing: {{input_per_mtok: 1000.0, output_per_mtok: 1000.0}}
server:
  max_body_size: 64KiB
# Each test looks at one attempt's answer (retries and cooldowns have their own tests).
router:
  retries: 0
  allowed_failures: 1000
"""
    )
    p = Proc(
        ["serve", "--config", str(config), "--listen", "127.0.0.1:0"],
        "switchyard listening",
        env={"E2E_MASTER_KEY": MASTER_KEY},
    )
    yield p
    p.stop()


@pytest.fixture(scope="session")
def openapi_gateway(mock):
    """A gateway of its own for the property tests of test_openapi.py: they create
    keys, providers and models at random, which other tests must not see."""
    tmp = Path(tempfile.mkdtemp(prefix="switchyard-e2e-openapi-"))
    config = tmp / "switchyard.yaml"
    m = mock.addr
    config.write_text(
        f"""
master_key: {MASTER_KEY}
database: sqlite://{tmp}/switchyard.db
providers:
  sim: {{kind: openai_compatible, base_url: "http://{m}/v1", api_key: sim-upstream-key}}
  claude: {{kind: anthropic, base_url: "http://{m}", api_key: sk-ant-up}}
models:
  - name: general
    deployments: [{{provider: sim, model: sim-model}}]
  - name: via-anthropic
    deployments: [{{provider: claude, model: claude-sim}}]
server:
  max_body_size: 64KiB
router: {{retries: 0, allowed_failures: 1000}}
"""
    )
    p = Proc(
        ["serve", "--config", str(config), "--listen", "127.0.0.1:0"],
        "switchyard listening",
        env={"SWITCHYARD_ENCRYPTION_KEY": "e2e-openapi-encryption-key"},
    )
    yield p
    p.stop()


@pytest.fixture()
def client(gateway):
    from openai import OpenAI

    # No SDK retries: each test sees exactly the gateway's answer.
    return OpenAI(base_url=f"http://{gateway.addr}/v1", api_key=MASTER_KEY, max_retries=0)


def service_account(tmp: Path, token_uri: str) -> Path:
    """A service-account file for Vertex whose token endpoint is the mock's.

    The RSA key is made here (openssl): the gateway signs its token request with it.
    """
    key = subprocess.run(
        ["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path = tmp / "service-account.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": "e2e-project",
                "private_key_id": "e2e",
                "private_key": key,
                "client_email": "e2e@e2e-project.iam.gserviceaccount.com",
                "client_id": "1",
                "token_uri": token_uri,
            }
        )
    )
    return path


# One public model per provider kind, all served by the mock in that kind's wire format.
PROVIDER_MODELS = ["via-openai", "via-anthropic", "via-gemini", "via-vertex", "via-azure", "via-bedrock", "via-mistral"]


@pytest.fixture(scope="session")
def providers_gateway(mock):
    tmp = Path(tempfile.mkdtemp(prefix="switchyard-e2e-providers-"))
    sa = service_account(tmp, f"http://{mock.addr}/token")
    config = tmp / "switchyard.yaml"
    m = mock.addr
    config.write_text(
        f"""
master_key: {MASTER_KEY}
router: {{retries: 0, allowed_failures: 1000}}
providers:
  openai: {{kind: openai_compatible, base_url: "http://{m}/v1", api_key: sk-up}}
  anthropic: {{kind: anthropic, base_url: "http://{m}", api_key: sk-ant-up}}
  gemini: {{kind: gemini, base_url: "http://{m}", api_key: gem-up}}
  vertex: {{kind: vertex, base_url: "http://{m}", project: e2e-project, location: us-central1, credentials_file: "{sa}"}}
  azure: {{kind: azure, base_url: "http://{m}", api_key: az-up}}
  bedrock: {{kind: bedrock, base_url: "http://{m}", region: us-east-1, access_key_id: AKIDE2E, secret_access_key: e2e-secret}}
  mistral: {{kind: mistral, base_url: "http://{m}/usage_on_finish=true/v1", api_key: mi-up}}
  limited: {{kind: openai_compatible, base_url: "http://{m}/status=429/v1", api_key: sk-up}}
models:
  - {{name: always-429, deployments: [{{provider: limited, model: gpt-sim}}]}}
  - {{name: priced-images, deployments: [{{provider: openai, model: dall-e-3, pricing: {{per_image: 0.5}}}}]}}
  - {{name: priced-embed, deployments: [{{provider: openai, model: text-embedding-3-small, pricing: {{input_per_mtok: 1000.0}}}}]}}
  - {{name: embed-pool, deployments: [{{provider: limited, model: text-embedding-3-small}}], fallbacks: [{{model: embed-gemini, on: [rate_limit]}}]}}
  - {{name: embed-gemini, deployments: [{{provider: gemini, model: gemini-embedding-001}}]}}
  - {{name: via-openai, deployments: [{{provider: openai, model: gpt-sim}}]}}
  - {{name: via-anthropic, deployments: [{{provider: anthropic, model: claude-sim}}]}}
  - {{name: via-gemini, deployments: [{{provider: gemini, model: gemini-sim}}]}}
  - {{name: via-vertex, deployments: [{{provider: vertex, model: gemini-sim}}]}}
  - {{name: via-azure, deployments: [{{provider: azure, model: azure-deployment}}]}}
  - {{name: via-bedrock, deployments: [{{provider: bedrock, model: "anthropic.claude-sim-v1:0"}}]}}
  - {{name: via-mistral, deployments: [{{provider: mistral, model: mistral-sim}}]}}
"""
    )
    p = Proc(["serve", "--config", str(config), "--listen", "127.0.0.1:0"], "switchyard listening")
    yield p
    p.stop()


@pytest.fixture()
def pclient(providers_gateway):
    from openai import OpenAI

    return OpenAI(base_url=f"http://{providers_gateway.addr}/v1", api_key=MASTER_KEY, max_retries=0)
