-- The request ledger: one row per finished request, written in batches by the
-- gateway's background writer (`Store::insert_ledger`), idempotent on request_id.
-- `attempts`, `tags` and `metadata` hold JSON.
--
-- PostgreSQL: partitioned by UTC day on time_ms. Day partitions (ledger_pYYYYMMDD)
-- are created on demand by the store before rows for that day are inserted and
-- dropped whole by retention; the default partition only catches stragglers (a
-- day created later takes its rows over). The primary key must hold the partition
-- key, so it is (request_id, time_ms): a retried row has the same start time.
CREATE TABLE IF NOT EXISTS ledger (
    request_id         TEXT COLLATE "C" NOT NULL,
    time_ms            BIGINT NOT NULL,
    key_id             TEXT,
    model              TEXT NOT NULL,
    served_model       TEXT,
    deployment         TEXT NOT NULL,
    provider           TEXT NOT NULL,
    stream             BOOLEAN NOT NULL,
    status             INTEGER NOT NULL,
    outcome            TEXT NOT NULL,
    error_class        TEXT,
    attempts           JSONB NOT NULL,
    prompt_tokens      BIGINT NOT NULL,
    completion_tokens  BIGINT NOT NULL,
    cached_tokens      BIGINT NOT NULL,
    cache_write_tokens BIGINT NOT NULL,
    reasoning_tokens   BIGINT NOT NULL,
    cost_usd           DOUBLE PRECISION NOT NULL,
    priced             BOOLEAN NOT NULL,
    latency_ms         DOUBLE PRECISION NOT NULL,
    ttft_ms            DOUBLE PRECISION,
    upstream_ms        DOUBLE PRECISION,
    overhead_ms        DOUBLE PRECISION,
    cache_status       TEXT,
    client_ip          TEXT,
    user_agent         TEXT,
    tags               JSONB NOT NULL,
    metadata           JSONB,
    request_body       TEXT,
    response_body      TEXT,
    trace_id           TEXT,
    PRIMARY KEY (request_id, time_ms)
) PARTITION BY RANGE (time_ms);

CREATE TABLE IF NOT EXISTS ledger_default PARTITION OF ledger DEFAULT;

CREATE INDEX IF NOT EXISTS ledger_time ON ledger (time_ms, request_id);
CREATE INDEX IF NOT EXISTS ledger_key_time ON ledger (key_id, time_ms, request_id);
CREATE INDEX IF NOT EXISTS ledger_model_time ON ledger (model, time_ms, request_id);
CREATE INDEX IF NOT EXISTS ledger_deployment_time ON ledger (deployment, time_ms, request_id);

-- Hourly rollups, maintained by `insert_ledger` in the same transaction as the rows
-- they count, so usage over whole hours never reads raw rows. One row per
-- (dimension, hour, group); dimension is model | key | deployment | provider and
-- grp the model, key id ('' for none), deployment or provider. errors counts
-- status >= 400 or outcome <> 'ok'. h00..h63 is a latency histogram: h00 counts
-- latencies under 1 ms, hNN (1..62) those in [2^((NN-1)/3), 2^(NN/3)) ms (bounds
-- rounded to 1/1024 ms), h63 those from 2^(62/3) ms (about 27.7 minutes) up.
-- Histogram counts are INTEGER (per hour and group: 2^31 is out of reach) so that
-- SUM over them stays cheap.
CREATE TABLE IF NOT EXISTS ledger_rollup (
    dimension     TEXT NOT NULL CHECK (dimension IN ('model', 'key', 'deployment', 'provider')),
    bucket_hour   BIGINT NOT NULL,
    grp           TEXT NOT NULL,
    requests      BIGINT NOT NULL,
    errors        BIGINT NOT NULL,
    input_tokens  BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost_usd      DOUBLE PRECISION NOT NULL,
    h00 INTEGER NOT NULL DEFAULT 0,
    h01 INTEGER NOT NULL DEFAULT 0,
    h02 INTEGER NOT NULL DEFAULT 0,
    h03 INTEGER NOT NULL DEFAULT 0,
    h04 INTEGER NOT NULL DEFAULT 0,
    h05 INTEGER NOT NULL DEFAULT 0,
    h06 INTEGER NOT NULL DEFAULT 0,
    h07 INTEGER NOT NULL DEFAULT 0,
    h08 INTEGER NOT NULL DEFAULT 0,
    h09 INTEGER NOT NULL DEFAULT 0,
    h10 INTEGER NOT NULL DEFAULT 0,
    h11 INTEGER NOT NULL DEFAULT 0,
    h12 INTEGER NOT NULL DEFAULT 0,
    h13 INTEGER NOT NULL DEFAULT 0,
    h14 INTEGER NOT NULL DEFAULT 0,
    h15 INTEGER NOT NULL DEFAULT 0,
    h16 INTEGER NOT NULL DEFAULT 0,
    h17 INTEGER NOT NULL DEFAULT 0,
    h18 INTEGER NOT NULL DEFAULT 0,
    h19 INTEGER NOT NULL DEFAULT 0,
    h20 INTEGER NOT NULL DEFAULT 0,
    h21 INTEGER NOT NULL DEFAULT 0,
    h22 INTEGER NOT NULL DEFAULT 0,
    h23 INTEGER NOT NULL DEFAULT 0,
    h24 INTEGER NOT NULL DEFAULT 0,
    h25 INTEGER NOT NULL DEFAULT 0,
    h26 INTEGER NOT NULL DEFAULT 0,
    h27 INTEGER NOT NULL DEFAULT 0,
    h28 INTEGER NOT NULL DEFAULT 0,
    h29 INTEGER NOT NULL DEFAULT 0,
    h30 INTEGER NOT NULL DEFAULT 0,
    h31 INTEGER NOT NULL DEFAULT 0,
    h32 INTEGER NOT NULL DEFAULT 0,
    h33 INTEGER NOT NULL DEFAULT 0,
    h34 INTEGER NOT NULL DEFAULT 0,
    h35 INTEGER NOT NULL DEFAULT 0,
    h36 INTEGER NOT NULL DEFAULT 0,
    h37 INTEGER NOT NULL DEFAULT 0,
    h38 INTEGER NOT NULL DEFAULT 0,
    h39 INTEGER NOT NULL DEFAULT 0,
    h40 INTEGER NOT NULL DEFAULT 0,
    h41 INTEGER NOT NULL DEFAULT 0,
    h42 INTEGER NOT NULL DEFAULT 0,
    h43 INTEGER NOT NULL DEFAULT 0,
    h44 INTEGER NOT NULL DEFAULT 0,
    h45 INTEGER NOT NULL DEFAULT 0,
    h46 INTEGER NOT NULL DEFAULT 0,
    h47 INTEGER NOT NULL DEFAULT 0,
    h48 INTEGER NOT NULL DEFAULT 0,
    h49 INTEGER NOT NULL DEFAULT 0,
    h50 INTEGER NOT NULL DEFAULT 0,
    h51 INTEGER NOT NULL DEFAULT 0,
    h52 INTEGER NOT NULL DEFAULT 0,
    h53 INTEGER NOT NULL DEFAULT 0,
    h54 INTEGER NOT NULL DEFAULT 0,
    h55 INTEGER NOT NULL DEFAULT 0,
    h56 INTEGER NOT NULL DEFAULT 0,
    h57 INTEGER NOT NULL DEFAULT 0,
    h58 INTEGER NOT NULL DEFAULT 0,
    h59 INTEGER NOT NULL DEFAULT 0,
    h60 INTEGER NOT NULL DEFAULT 0,
    h61 INTEGER NOT NULL DEFAULT 0,
    h62 INTEGER NOT NULL DEFAULT 0,
    h63 INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, bucket_hour, grp)
);
