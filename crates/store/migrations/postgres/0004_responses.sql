-- Responses API state (`store: true`): each stored response's conversation (the input
-- items it was given, earlier turns included, then its output items) so that a later
-- request can continue it with `previous_response_id`, and the response object itself
-- for `GET /v1/responses/{id}`. Rows expire (`expires_at_ms`); expired rows are never
-- returned and are purged in the background.
CREATE TABLE IF NOT EXISTS response_state (
    id            TEXT PRIMARY KEY,
    -- The virtual key that created it: another key cannot read or continue it.
    key_id        TEXT,
    model         TEXT NOT NULL,
    -- JSON array of Responses API items.
    conversation  TEXT NOT NULL,
    -- JSON: the response object as returned.
    response      TEXT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS response_state_expiry ON response_state (expires_at_ms);
