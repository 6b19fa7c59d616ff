use super::*;
use std::time::Duration;

fn env(name: &str) -> Option<String> {
    match name {
        "OPENAI_API_KEY" => Some("sk-test".into()),
        "MASTER" => Some("sk-master".into()),
        _ => None,
    }
}

fn parse(text: &str) -> Result<Config, ConfigError> {
    parse_str("switchyard.yaml", text, &env)
}

const GOOD: &str = r#"
listen: 127.0.0.1:4100
master_key: ${MASTER}
database: sqlite://data/gw.db
providers:
  openai:
    kind: openai
    api_key: ${OPENAI_API_KEY}
  local:
    kind: openai_compatible
    base_url: ${LOCAL_URL:-http://127.0.0.1:11434/v1}
    api_keys: [k1, k2]
models:
  - name: general
    strategy: weighted
    deployments:
      - provider: openai
        model: gpt-4o-mini
        weight: 3
        timeout: 45s
      - provider: local
        model: llama3
server:
  max_body_size: 1MiB
  shutdown_grace: 5s
"#;

#[test]
fn parses_the_interface_shape() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.listen_addr(), "127.0.0.1:4100");
    assert_eq!(c.master_key.as_deref(), Some("sk-master"));
    assert_eq!(c.providers["openai"].kind, ProviderKind::Openai);
    assert_eq!(c.providers["openai"].keys(), vec!["sk-test"]);
    assert_eq!(c.providers["local"].keys(), vec!["k1", "k2"]);
    assert_eq!(
        c.providers["local"].base_url.as_deref(),
        Some("http://127.0.0.1:11434/v1")
    );
    let m = &c.models[0];
    assert_eq!(m.deployments[0].weight, 3);
    assert_eq!(m.deployments[1].weight, 1);
    assert_eq!(
        m.deployments[0].timeout.map(|t| t.0),
        Some(Duration::from_secs(45))
    );
    assert_eq!(c.server.max_body_size(), 1024 * 1024);
    assert_eq!(c.server.shutdown_grace(), Duration::from_secs(5));
    assert_eq!(c.server.timeout(), DEFAULT_UPSTREAM_TIMEOUT);
}

#[test]
fn unknown_field_is_named_with_position() {
    let text = GOOD.replace(
        "        weight: 3\n",
        "        weight: 3\n        wieght: 4\n",
    );
    let err = parse(&text).unwrap_err();
    assert_eq!(
        err.field.as_deref(),
        Some("models[0].deployments[0].wieght")
    );
    assert_eq!(err.line, Some(20), "{err}");
    assert!(err.column.is_some());
    let shown = err.to_string();
    assert!(shown.starts_with("switchyard.yaml:20:"), "{shown}");
    assert!(
        shown.starts_with(
            "switchyard.yaml:20:9: models[0].deployments[0].wieght: unknown field `wieght`"
        ),
        "{shown}"
    );
}

#[test]
fn wrong_type_is_named_with_position() {
    let err = parse(&GOOD.replace("weight: 3", "weight: heavy")).unwrap_err();
    assert_eq!(
        err.field.as_deref(),
        Some("models[0].deployments[0].weight")
    );
    assert_eq!(err.line, Some(19), "{err}");
}

#[test]
fn bad_duration_is_an_error() {
    let err = parse(&GOOD.replace("timeout: 45s", "timeout: soon")).unwrap_err();
    assert_eq!(
        err.field.as_deref(),
        Some("models[0].deployments[0].timeout")
    );
    assert!(err.message.contains("not a duration"), "{err}");
}

#[test]
fn unknown_provider_reference_is_located() {
    let err = parse(&GOOD.replace("provider: local", "provider: locall")).unwrap_err();
    assert_eq!(
        err.field.as_deref(),
        Some("models[0].deployments[1].provider")
    );
    assert_eq!(err.line, Some(21), "{err}");
    assert_eq!(err.column, Some(19), "{err}");
    assert!(
        err.message.contains("configured providers: local, openai"),
        "{err}"
    );
}

#[test]
fn unknown_kind_is_rejected() {
    let err = parse(&GOOD.replace("kind: openai\n", "kind: openia\n")).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("providers.openai.kind"));
    assert!(err.message.contains("unknown variant"), "{err}");
}

#[test]
fn unset_env_var_is_located() {
    let err = parse(&GOOD.replace("${MASTER}", "${NOT_SET_ANYWHERE}")).unwrap_err();
    assert_eq!(err.line, Some(3));
    assert!(err.message.contains("NOT_SET_ANYWHERE"));
}

#[test]
fn semantic_checks() {
    let dup = GOOD.replace(
        "server:",
        "  - name: general\n    deployments:\n      - {provider: openai, model: x}\nserver:",
    );
    assert!(parse(&dup).unwrap_err().message.contains("defined twice"));
    let both = GOOD.replace(
        "    api_keys: [k1, k2]\n",
        "    api_keys: [k1]\n    api_key: x\n",
    );
    assert!(parse(&both).unwrap_err().message.contains("not both"));
    let url = GOOD.replace("http://127.0.0.1:11434/v1", "127.0.0.1:11434");
    assert_eq!(
        parse(&url).unwrap_err().field.as_deref(),
        Some("providers.local.base_url")
    );
    let listen = GOOD.replace("127.0.0.1:4100", "localhost");
    assert_eq!(parse(&listen).unwrap_err().line, Some(2));
    let db = GOOD.replace("sqlite://data/gw.db", "mysql://x");
    assert!(parse(&db).unwrap_err().message.contains("postgres"));
    let empty = "models:\n  - name: a\n    deployments: []\n";
    assert!(parse(empty).unwrap_err().message.contains("no deployments"));
}

#[test]
fn workers_default_to_cpus_and_reject_zero() {
    let c = parse(GOOD).unwrap();
    assert!(c.server.workers() >= 1);
    let c =
        parse(&GOOD.replace("  shutdown_grace: 5s", "  shutdown_grace: 5s\n  workers: 3")).unwrap();
    assert_eq!(c.server.workers(), 3);
    let err = parse(&GOOD.replace("  shutdown_grace: 5s", "  shutdown_grace: 5s\n  workers: 0"))
        .unwrap_err();
    assert_eq!(err.field.as_deref(), Some("server.workers"));
}

#[test]
fn strategy_is_checked() {
    let err = parse(&GOOD.replace("strategy: weighted", "strategy: fastest")).unwrap_err();
    assert_eq!(err.field.as_deref(), Some("models[0].strategy"));
}

#[test]
fn database_url_resolves_beside_the_config() {
    let mut c = parse(GOOD).unwrap();
    c.source = Some("/etc/switchyard/switchyard.yaml".into());
    assert_eq!(c.database_url(), "sqlite:///etc/switchyard/data/gw.db");
    c.database = None;
    assert_eq!(c.database_url(), "sqlite:///etc/switchyard/switchyard.db");
    c.database = Some("postgres://u@h/db".into());
    assert_eq!(c.database_url(), "postgres://u@h/db");
}

#[test]
fn empty_file_is_a_valid_empty_config() {
    let c = parse("").unwrap();
    assert!(c.models.is_empty());
}

#[test]
fn yaml_syntax_error_has_position() {
    let err = parse("providers:\n  openai: [unclosed\n").unwrap_err();
    assert!(err.line.is_some(), "{err}");
}

#[test]
fn kind_specific_fields_are_checked_and_located() {
    let e = parse("providers:\n  o:\n    kind: openai\n    api_key: k\n    region: us-east-1\n")
        .unwrap_err();
    assert_eq!(
        (e.line, e.field.as_deref()),
        (Some(5), Some("providers.o.region")),
        "{e}"
    );
    assert!(e.message.contains("bedrock"), "{e}");
    let e = parse("providers:\n  v:\n    kind: vertex\n    project: p\n").unwrap_err();
    assert!(e.message.contains("location"), "{e}");
    let e = parse("providers:\n  a:\n    kind: azure\n    api_key: k\n").unwrap_err();
    assert!(e.message.contains("base_url"), "{e}");
    let e = parse(
        "providers:\n  a:\n    kind: azure\n    api_key: k\n    base_url: https://r.openai.azure.com\n    azure_ad_token: t\n",
    )
    .unwrap_err();
    assert!(e.message.contains("not both"), "{e}");
    let e = parse("providers:\n  b:\n    kind: bedrock\n    access_key_id: a\n").unwrap_err();
    assert!(e.message.contains("together"), "{e}");
    let ok = parse(
        r#"
providers:
  claude: {kind: anthropic, api_key: k, anthropic_version: "2023-06-01"}
  vx: {kind: vertex, project: p, location: us-central1, credentials_file: sa.json}
  az: {kind: azure, base_url: "https://r.openai.azure.com", api_version: "2024-10-21", azure_ad_token: t}
  br: {kind: bedrock, region: us-east-1, access_key_id: a, secret_access_key: s, session_token: t}
  ds: {kind: deepseek, api_key: k}
"#,
    )
    .unwrap();
    assert_eq!(ok.providers["vx"].location.as_deref(), Some("us-central1"));
    assert_eq!(ok.providers["br"].session_token.as_deref(), Some("t"));
}

#[test]
fn routing_keys_parse_and_references_are_checked() {
    let text = r#"
redis: redis://127.0.0.1:6379
providers:
  a: {kind: openai_compatible, base_url: "http://127.0.0.1:1/v1"}
models:
  - name: main
    strategy: latency
    hedge_after: 800ms
    deployments:
      - {provider: a, model: x, rpm: 500, tpm: 200000, timeout: 60s, first_token_timeout: 5s, connect_timeout: 2s,
         pricing: {input_per_mtok: 0.15, output_per_mtok: 0.6}}
    fallbacks:
      - {model: backup, on: [rate_limit, server_error]}
      - {model: big}
    route_if:
      - {when: {prompt_tokens_over: 8000}, model: big}
      - {when: {has_images: true, tag: vision}, model: backup}
  - {name: backup, strategy: ordered, deployments: [{provider: a, model: y}]}
  - {name: big, strategy: cost, deployments: [{provider: a, model: z}]}
router: {retries: 3, cooldown: 10s, allowed_failures: 2, max_retry_wait: 5s, first_token_timeout: 2s}
"#;
    let c = parse(text).unwrap();
    let m = &c.models[0];
    assert_eq!(m.strategy, Strategy::Latency);
    assert_eq!(
        m.fallbacks[0].reasons(),
        vec![FallbackReason::RateLimit, FallbackReason::ServerError]
    );
    assert_eq!(
        m.fallbacks[1].reasons().len(),
        5,
        "all reasons when `on` is absent"
    );
    assert_eq!(m.route_if[0].when.prompt_tokens_over, Some(8000));
    assert_eq!(m.deployments[0].rpm, Some(500));
    assert_eq!(
        m.deployments[0].connect_timeout.map(|d| d.0),
        Some(Duration::from_secs(2))
    );
    assert_eq!(c.router.retries(), 3);
    assert_eq!(c.router.cooldown(), Duration::from_secs(10));
    assert_eq!(c.router.allowed_failures(), 2);
    assert_eq!(Config::default().router.retries(), 2);

    let e = parse(&text.replace("{model: big}", "{model: nope}")).unwrap_err();
    assert_eq!(
        e.field.as_deref(),
        Some("models[0].fallbacks[1].model"),
        "{e}"
    );
    assert!(e.message.contains("unknown model `nope`"), "{e}");
    let e = parse(&text.replace(
        "model: backup}\n  - {name: backup",
        "model: main}\n  - {name: backup",
    ))
    .unwrap_err();
    assert!(e.message.contains("itself"), "{e}");
    let e = parse(&text.replace("on: [rate_limit, server_error]", "on: [sunspots]")).unwrap_err();
    assert!(
        e.field
            .as_deref()
            .unwrap_or("")
            .starts_with("models[0].fallbacks[0].on"),
        "{e}"
    );
    let e = parse(&text.replace("redis://127.0.0.1:6379", "127.0.0.1:6379")).unwrap_err();
    assert_eq!(e.field.as_deref(), Some("redis"));
    let e = parse(&text.replace("input_per_mtok: 0.15", "input_per_mtok: -1")).unwrap_err();
    assert!(e.message.contains("not negative"), "{e}");
}
