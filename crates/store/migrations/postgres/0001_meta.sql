-- Installation facts: one row per key. `install_id` identifies this database across
-- replicas and restarts (logged by `serve`, reported by readiness).
CREATE TABLE IF NOT EXISTS meta (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
