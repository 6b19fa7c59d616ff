"""Starts the real `switchyard` binary and its mock provider for the SDK tests.

The binary comes from $SWITCHYARD_BIN, else target/debug/switchyard (built by scripts/test).
"""

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
server:
  max_body_size: 64KiB
"""
    )
    p = Proc(
        ["serve", "--config", str(config), "--listen", "127.0.0.1:0"],
        "switchyard listening",
        env={"E2E_MASTER_KEY": MASTER_KEY},
    )
    yield p
    p.stop()


@pytest.fixture()
def client(gateway):
    from openai import OpenAI

    # No SDK retries: each test sees exactly the gateway's answer.
    return OpenAI(base_url=f"http://{gateway.addr}/v1", api_key=MASTER_KEY, max_retries=0)
