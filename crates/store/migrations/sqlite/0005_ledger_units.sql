-- The route a request came in by and the media units it was billed by.
--
-- `endpoint` is the API the client called: chat.completions | messages | responses |
-- embeddings | images.generations | audio.transcriptions | audio.speech. Rows written
-- before this migration read as chat.completions (their route was not recorded).
-- `images`, `audio_ms` and `characters` are what media requests are billed by besides
-- tokens (0 for chat requests).
--
-- The hourly rollups sum the units too, and gain an 'endpoint' dimension (grp: the
-- endpoint) so `/admin/usage?group_by=endpoint` reads rollups like the others.

ALTER TABLE ledger ADD COLUMN endpoint TEXT NOT NULL DEFAULT 'chat.completions';
ALTER TABLE ledger ADD COLUMN images INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN audio_ms INTEGER NOT NULL DEFAULT 0;
ALTER TABLE ledger ADD COLUMN characters INTEGER NOT NULL DEFAULT 0;

-- SQLite cannot change a CHECK constraint in place: the rollup table is rebuilt with
-- the new dimension and the unit sums (added last, so existing rows copy over by
-- position).
CREATE TABLE ledger_rollup_new (
    dimension     TEXT NOT NULL CHECK (dimension IN ('model', 'key', 'deployment', 'provider', 'endpoint')),
    bucket_hour   BIGINT NOT NULL,
    grp           TEXT NOT NULL,
    requests      BIGINT NOT NULL,
    errors        BIGINT NOT NULL,
    input_tokens  BIGINT NOT NULL,
    output_tokens BIGINT NOT NULL,
    cost_usd      REAL NOT NULL,
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
    images        BIGINT NOT NULL DEFAULT 0,
    audio_ms      BIGINT NOT NULL DEFAULT 0,
    characters    BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (dimension, bucket_hour, grp)
);
INSERT INTO ledger_rollup_new SELECT *, 0, 0, 0 FROM ledger_rollup;
DROP TABLE ledger_rollup;
ALTER TABLE ledger_rollup_new RENAME TO ledger_rollup;

-- Rows written before this migration are all counted under the default endpoint,
-- as their raw rows now read: one 'endpoint' rollup row per hour, the sum of that
-- hour's 'provider' rows (every request is in exactly one provider group).
INSERT INTO ledger_rollup (dimension, bucket_hour, grp, requests, errors, input_tokens,
    output_tokens, cost_usd, h00, h01, h02, h03, h04, h05, h06, h07, h08, h09, h10, h11, h12, h13, h14, h15, h16, h17, h18, h19, h20, h21, h22, h23, h24, h25, h26, h27, h28, h29, h30, h31, h32, h33, h34, h35, h36, h37, h38, h39, h40, h41, h42, h43, h44, h45, h46, h47, h48, h49, h50, h51, h52, h53, h54, h55, h56, h57, h58, h59, h60, h61, h62, h63)
SELECT 'endpoint', bucket_hour, 'chat.completions', SUM(requests), SUM(errors),
    SUM(input_tokens), SUM(output_tokens), SUM(cost_usd), SUM(h00), SUM(h01), SUM(h02), SUM(h03), SUM(h04), SUM(h05), SUM(h06), SUM(h07), SUM(h08), SUM(h09), SUM(h10), SUM(h11), SUM(h12), SUM(h13), SUM(h14), SUM(h15), SUM(h16), SUM(h17), SUM(h18), SUM(h19), SUM(h20), SUM(h21), SUM(h22), SUM(h23), SUM(h24), SUM(h25), SUM(h26), SUM(h27), SUM(h28), SUM(h29), SUM(h30), SUM(h31), SUM(h32), SUM(h33), SUM(h34), SUM(h35), SUM(h36), SUM(h37), SUM(h38), SUM(h39), SUM(h40), SUM(h41), SUM(h42), SUM(h43), SUM(h44), SUM(h45), SUM(h46), SUM(h47), SUM(h48), SUM(h49), SUM(h50), SUM(h51), SUM(h52), SUM(h53), SUM(h54), SUM(h55), SUM(h56), SUM(h57), SUM(h58), SUM(h59), SUM(h60), SUM(h61), SUM(h62), SUM(h63)
FROM ledger_rollup WHERE dimension = 'provider' GROUP BY bucket_hour
ON CONFLICT (dimension, bucket_hour, grp) DO NOTHING;
