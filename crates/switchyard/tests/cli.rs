//! The real binary: `check`, `migrate`, `serve` (with SIGTERM), `demo`, `mock-provider`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_switchyard"))
}

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("sy-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A running child whose stderr is drained in the background.
struct Proc {
    child: Child,
    addr: String,
    lines: mpsc::Receiver<String>,
}

impl Proc {
    /// Starts `cmd` and waits for its "listening" log line.
    #[allow(clippy::zombie_processes)] // the Proc owns the child and waits for it on drop
    fn start(mut cmd: Command, marker: &str) -> Proc {
        cmd.stderr(Stdio::piped())
            .stdout(Stdio::piped())
            .env("RUST_LOG", "info");
        let mut child = cmd.spawn().unwrap();
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut seen = Vec::new();
        while Instant::now() < deadline {
            if let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                if line.contains(marker) {
                    // Text logs say addr=HOST:PORT; JSON logs "addr":"HOST:PORT".
                    let addr = line
                        .split_whitespace()
                        .find_map(|w| w.strip_prefix("addr="))
                        .map(str::to_string)
                        .or_else(|| {
                            let v: serde_json::Value = serde_json::from_str(&line).ok()?;
                            Some(v["addr"].as_str()?.to_string())
                        })
                        .unwrap();
                    return Proc {
                        child,
                        addr,
                        lines: rx,
                    };
                }
                seen.push(line);
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("no `{marker}` line; stderr was:\n{}", seen.join("\n"));
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "process did not exit in {within:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn mock_provider() -> Proc {
    let mut cmd = bin();
    cmd.args(["mock-provider", "--listen", "127.0.0.1:0", "--record"]);
    Proc::start(cmd, "mock provider listening")
}

/// `switchyard serve` on a free port with `cfg` and extra environment.
fn serve(cfg: &std::path::Path, env: &[(&str, &str)]) -> Proc {
    let mut cmd = bin();
    cmd.args([
        "serve",
        "--config",
        cfg.to_str().unwrap(),
        "--listen",
        "127.0.0.1:0",
    ]);
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc::start(cmd, "switchyard listening")
}

/// Runs a client future to completion on a fresh runtime.
fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn write_config(dir: &std::path::Path, mock: &str) -> PathBuf {
    let path = dir.join("switchyard.yaml");
    std::fs::write(
        &path,
        format!(
            r#"master_key: ${{TEST_MASTER_KEY}}
database: sqlite://gw.db
providers:
  sim:
    kind: openai_compatible
    base_url: http://{mock}/v1
    api_key: sim-key
models:
  - name: general
    deployments:
      - provider: sim
        model: sim-model
server:
  shutdown_grace: 10s
"#
        ),
    )
    .unwrap();
    path
}

#[test]
fn check_prints_the_catalog() {
    let dir = tmpdir("check-ok");
    let cfg = write_config(&dir, "127.0.0.1:1");
    let out = bin()
        .args(["check", "--config", cfg.to_str().unwrap()])
        .env("TEST_MASTER_KEY", "sk-secret-master")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("general"), "{stdout}");
    assert!(stdout.contains("sim/sim-model"), "{stdout}");
    assert!(stdout.contains("auth=1 key(s)"), "{stdout}");
    assert!(
        !stdout.contains("sim-key") && !stdout.contains("sk-secret-master"),
        "no secrets: {stdout}"
    );
}

#[test]
fn check_names_file_line_column_and_field() {
    let dir = tmpdir("check-bad");
    let cfg = dir.join("broken.yaml");
    std::fs::write(
        &cfg,
        "providers:\n  sim:\n    kind: openai_compatible\n    base_url: http://127.0.0.1:1/v1\nmodels:\n  - name: m\n    deployments:\n      - provider: sim\n        model: x\n        wieght: 2\n",
    )
    .unwrap();
    let out = bin()
        .args(["check", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "{}:10:9: models[0].deployments[0].wieght: unknown field `wieght`",
        cfg.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");

    // A semantic error is located too.
    std::fs::write(
        &cfg,
        "models:\n  - name: m\n    deployments:\n      - provider: ghost\n        model: x\n",
    )
    .unwrap();
    let out = bin()
        .args(["check", "--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":4:19: models[0].deployments[0].provider: unknown provider `ghost`"),
        "{stderr}"
    );

    // An unset variable.
    let cfg2 = write_config(&dir, "127.0.0.1:1");
    let out = bin()
        .args(["check", "--config", cfg2.to_str().unwrap()])
        .env_remove("TEST_MASTER_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":1:13: environment variable TEST_MASTER_KEY is not set"),
        "{stderr}"
    );

    // A missing file.
    let out = bin()
        .args(["check", "--config", "/nonexistent/x.yaml"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/x.yaml"));
}

#[test]
fn migrate_creates_the_sqlite_database_beside_the_config() {
    let dir = tmpdir("migrate");
    let cfg = write_config(&dir, "127.0.0.1:1");
    let out = bin()
        .args(["migrate", "--config", cfg.to_str().unwrap()])
        .env("TEST_MASTER_KEY", "k")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.join("gw.db").exists());
    assert!(String::from_utf8_lossy(&out.stdout).contains("up to date"));
}

#[test]
fn serve_answers_and_drains_on_sigterm() {
    let mock = mock_provider();
    let dir = tmpdir("serve");
    let cfg = write_config(&dir, &mock.addr);
    let mut gw = serve(&cfg, &[("TEST_MASTER_KEY", "sk-cli-master")]);
    block_on(async {
        let http = reqwest::Client::new();
        let r = http
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth("sk-cli-master")
            .json(&serde_json::json!({"model": "general", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["x-switchyard-deployment"], "sim/sim-model");
        let ready: serde_json::Value = http
            .get(gw.url("/health/ready"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(ready["database"]["backend"], "sqlite");

        // A stream in flight when SIGTERM arrives still completes.
        let resp = http
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth("sk-cli-master")
            .json(&serde_json::json!({"model": "general", "stream": true,
                                      "messages": [{"role": "user", "content": "hi"}],
                                      "mock": {"tokens": 30, "delay_ms": 20}}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        gw.signal("-TERM");
        let body = match resp.text().await {
            Ok(b) => b,
            Err(e) => {
                std::thread::sleep(Duration::from_millis(500));
                panic!("{e}: {:?}", gw.log())
            }
        };
        assert!(body.ends_with("data: [DONE]\n\n"), "{body}");
    });
    let status = gw.wait_exit(Duration::from_secs(10));
    assert!(status.success(), "{status:?}: {:?}", gw.log());
    let log = gw.log().join("\n");
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        log.contains("switchyard::request"),
        "one line per request: {log}"
    );
}

#[test]
fn demo_runs_offline_with_no_keys() {
    let mut cmd = bin();
    cmd.args(["demo", "--listen", "127.0.0.1:0"])
        .env_remove("OPENAI_API_KEY")
        .env_remove("SWITCHYARD_MASTER_KEY");
    let mut demo = Proc::start(cmd, "switchyard listening");
    block_on(async {
        let http = reqwest::Client::new();
        for model in [
            "gpt-4o-mini",
            "slow-stream",
            "claude-sonnet",
            "bedrock-claude",
        ] {
            let r = http
                .post(demo.url("/v1/chat/completions"))
                .bearer_auth("sk-switchyard-demo")
                .json(&serde_json::json!({"model": model, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{model}");
        }
        // The other client APIs on the same catalog.
        let calls = [
            (
                "/v1/messages",
                serde_json::json!({"model": "gpt-4o-mini", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]}),
            ),
            (
                "/v1/responses",
                serde_json::json!({"model": "claude-sonnet", "input": "hi"}),
            ),
            (
                "/v1/embeddings",
                serde_json::json!({"model": "text-embedding", "input": "hi"}),
            ),
        ];
        for (path, body) in calls {
            let r = http
                .post(demo.url(path))
                .header("x-api-key", "sk-switchyard-demo")
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200, "{path}");
        }
    });
    demo.signal("-INT");
    let status = demo.wait_exit(Duration::from_secs(10));
    assert!(status.success());
    // The banner with ready-made snippets goes to stdout.
    let mut stdout = String::new();
    std::io::Read::read_to_string(demo.child.stdout.as_mut().unwrap(), &mut stdout).unwrap();
    assert!(stdout.contains("curl http://"), "{stdout}");
    assert!(stdout.contains("from openai import OpenAI"), "{stdout}");
    assert!(
        stdout.contains("from anthropic import Anthropic"),
        "{stdout}"
    );
}

#[test]
fn json_logs_carry_one_structured_line_per_request() {
    let mock = mock_provider();
    let dir = tmpdir("jsonlog");
    let cfg = write_config(&dir, &mock.addr);
    let mut gw = serve(
        &cfg,
        &[
            ("TEST_MASTER_KEY", "sk-json"),
            ("SWITCHYARD_LOG_FORMAT", "json"),
        ],
    );
    block_on(async {
        let r = reqwest::Client::new()
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth("sk-json")
            .header("x-request-id", "json-log-test-1")
            .json(&serde_json::json!({"model": "general", "messages": [{"role": "user", "content": "hi"}]}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    });
    gw.signal("-TERM");
    assert!(gw.wait_exit(Duration::from_secs(10)).success());
    let line = gw
        .log()
        .into_iter()
        .find(|l| l.contains("json-log-test-1"))
        .expect("a request line");
    let v: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(v["target"], "switchyard::request");
    assert_eq!(v["model"], "general");
    assert_eq!(v["deployment"], "sim/sim-model");
    assert_eq!(v["status"], 200);
    assert_eq!(v["outcome"], "ok");
    assert_eq!(v["completion_tokens"], 12);
    assert!(v["latency_ms"].as_f64().unwrap() > 0.0);
}

#[test]
fn keys_create_list_show_revoke_on_the_configured_store() {
    let dir = tmpdir("keys");
    let cfg = write_config(&dir, "127.0.0.1:9");
    let run = |args: &[&str]| {
        let out = bin()
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .env("TEST_MASTER_KEY", "sk-m")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, err) = run(&[
        "keys",
        "create",
        "--name",
        "ci",
        "--models",
        "general,sim/*",
        "--budget-usd",
        "5",
        "--budget-period",
        "month",
        "--rpm",
        "10",
    ]);
    assert!(ok, "{err}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    let key = created["key"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    assert!(key.starts_with("sk-sy-"));
    assert_eq!(created["models"], serde_json::json!(["general", "sim/*"]));
    assert_eq!(created["budget_period"], "month");

    let (ok, out, _) = run(&["keys", "list"]);
    assert!(ok);
    assert!(out.contains(&id) && !out.contains(&key), "{out}");
    let (ok, out, _) = run(&["keys", "show", &id]);
    assert!(ok && out.contains("\"rpm\": 10"), "{out}");
    let (ok, out, _) = run(&["keys", "revoke", &id]);
    assert!(ok, "{out}");
    let (_, out, _) = run(&["keys", "show", &id]);
    assert!(out.contains("\"revoked\": true"), "{out}");
    let (ok, _, err) = run(&["keys", "show", "key_missing"]);
    assert!(!ok && err.contains("no key"), "{err}");
    let (ok, _, err) = run(&[
        "keys",
        "create",
        "--name",
        "x",
        "--budget-usd",
        "1",
        "--budget-period",
        "fortnight",
    ]);
    assert!(!ok && err.contains("budget_period"), "{err}");
}

#[test]
fn usage_export_writes_the_ledger_as_csv_and_jsonl() {
    let mock = mock_provider();
    let dir = tmpdir("export");
    let cfg = write_config(&dir, &mock.addr);
    let mut gw = serve(&cfg, &[("TEST_MASTER_KEY", "sk-exp")]);
    block_on(async {
        let http = reqwest::Client::new();
        for _ in 0..3 {
            let r = http
                .post(gw.url("/v1/chat/completions"))
                .bearer_auth("sk-exp")
                .json(&serde_json::json!({"model": "general", "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        }
    });
    // SIGTERM flushes the ledger before the process exits.
    gw.signal("-TERM");
    assert!(gw.wait_exit(Duration::from_secs(15)).success());

    let export = |format: &str| {
        let out = bin()
            .args([
                "usage",
                "export",
                "--format",
                format,
                "--from",
                "2020-01-01",
                "--config",
            ])
            .arg(&cfg)
            .env("TEST_MASTER_KEY", "sk-exp")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let csv = export("csv");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    assert!(lines[0].starts_with("request_id,time,key_id,model"));
    assert!(lines[0].ends_with(",endpoint,images,audio_ms,characters"));
    assert!(lines[1..].iter().all(|l| l.contains(",general,")
        && l.contains("sim/sim-model")
        && l.ends_with(",chat.completions,0,0,0")));
    let jsonl = export("jsonl");
    let rows: Vec<serde_json::Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(rows
        .iter()
        .all(|r| r["status"] == 200 && r["completion_tokens"].as_u64() > Some(0)));
    assert!(rows
        .iter()
        .all(|r| r["endpoint"] == "chat.completions" && r["images"] == 0));
    // Oldest first.
    assert!(rows
        .windows(2)
        .all(|w| w[0]["time_ms"].as_i64() <= w[1]["time_ms"].as_i64()));
}

#[test]
fn check_reports_a_name_defined_in_the_file_and_at_runtime() {
    let dir = tmpdir("clash");
    let cfg = write_config(&dir, "127.0.0.1:9");
    let out = bin()
        .args(["migrate", "--config"])
        .arg(&cfg)
        .env("TEST_MASTER_KEY", "k")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    block_on(async {
        let url = format!("sqlite://{}", dir.join("gw.db").display());
        let store = switchyard_store::Store::connect(&url).await.unwrap();
        store
            .upsert_model(
                "general",
                &serde_json::json!({"deployments": [{"provider": "sim", "model": "x"}]}),
            )
            .await
            .unwrap();
        store.close().await;
    });
    let out = bin()
        .args(["check", "--config"])
        .arg(&cfg)
        .env("TEST_MASTER_KEY", "k")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("model `general` is defined both"), "{err}");
}
