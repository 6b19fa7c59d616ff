-- Governance: virtual keys, their spend per budget period, and the runtime catalog
-- (providers and models added at run time). Every change to a key, a provider or a
-- model bumps `governance_version` in the same transaction, so a replica learns
-- whether to reload by reading one row. Spend does not bump it.

CREATE TABLE IF NOT EXISTS governance_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO governance_version (id, version) VALUES (1, 0) ON CONFLICT (id) DO NOTHING;

-- The plaintext key is never stored: `key_hash` is the lowercase hex SHA-256 of the
-- full key, `key_prefix` its first characters, for display.
CREATE TABLE IF NOT EXISTS virtual_keys (
    id              TEXT PRIMARY KEY,
    name            TEXT NOT NULL,
    key_hash        TEXT NOT NULL UNIQUE CHECK (length(key_hash) = 64),
    key_prefix      TEXT NOT NULL,
    -- JSON array of model scopes; empty = every model.
    models          TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(models) AND json_type(models) = 'array'),
    budget_usd      REAL CHECK (budget_usd >= 0),
    budget_period   TEXT CHECK (budget_period IN ('day', 'week', 'month', 'total')),
    rpm             INTEGER CHECK (rpm >= 0),
    tpm             INTEGER CHECK (tpm >= 0),
    max_concurrency INTEGER CHECK (max_concurrency >= 0),
    expires_at_ms   INTEGER,
    metadata        TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at_ms   INTEGER NOT NULL,
    updated_at_ms   INTEGER NOT NULL,
    revoked_at_ms   INTEGER
);

-- Spend per key and budget period (`period_start_ms`: the period's UTC start; 0 for
-- `total`). Rows only grow by addition, so replicas flush concurrently.
CREATE TABLE IF NOT EXISTS key_spend (
    key_id          TEXT NOT NULL,
    period_start_ms INTEGER NOT NULL,
    spend_usd       REAL NOT NULL DEFAULT 0,
    updated_at_ms   INTEGER NOT NULL,
    PRIMARY KEY (key_id, period_start_ms)
) WITHOUT ROWID;

-- `config`: the provider's configuration without secrets; `secret`: the caller's
-- AES-256-GCM ciphertext of its API keys, nonce first (opaque bytes here).
CREATE TABLE IF NOT EXISTS runtime_providers (
    name          TEXT PRIMARY KEY CHECK (name <> ''),
    config        TEXT NOT NULL CHECK (json_valid(config)),
    secret        BLOB,
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);

-- `config`: a model entry, shaped as in the configuration file.
CREATE TABLE IF NOT EXISTS runtime_models (
    name          TEXT PRIMARY KEY CHECK (name <> ''),
    config        TEXT NOT NULL CHECK (json_valid(config)),
    created_at_ms INTEGER NOT NULL,
    updated_at_ms INTEGER NOT NULL
);
