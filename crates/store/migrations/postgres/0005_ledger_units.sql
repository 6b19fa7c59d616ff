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
--
-- PostgreSQL: ALTER TABLE on the partitioned `ledger` adds the columns to every
-- existing partition (days and default); partitions created later (`PARTITION OF
-- ledger`, or `LIKE ledger` when rows move out of the default partition) take the
-- parent's columns. A constant default needs no table rewrite.
ALTER TABLE ledger
    ADD COLUMN endpoint   TEXT NOT NULL DEFAULT 'chat.completions',
    ADD COLUMN images     BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN audio_ms   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN characters BIGINT NOT NULL DEFAULT 0;

ALTER TABLE ledger_rollup
    ADD COLUMN images     BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN audio_ms   BIGINT NOT NULL DEFAULT 0,
    ADD COLUMN characters BIGINT NOT NULL DEFAULT 0,
    DROP CONSTRAINT ledger_rollup_dimension_check,
    ADD CONSTRAINT ledger_rollup_dimension_check
        CHECK (dimension IN ('model', 'key', 'deployment', 'provider', 'endpoint'));

-- Rows written before this migration are all counted under the default endpoint,
-- as their raw rows now read: one 'endpoint' rollup row per hour, the sum of that
-- hour's 'provider' rows (every request is in exactly one provider group).
INSERT INTO ledger_rollup (dimension, bucket_hour, grp, requests, errors, input_tokens,
    output_tokens, cost_usd, h00, h01, h02, h03, h04, h05, h06, h07, h08, h09, h10, h11, h12, h13, h14, h15, h16, h17, h18, h19, h20, h21, h22, h23, h24, h25, h26, h27, h28, h29, h30, h31, h32, h33, h34, h35, h36, h37, h38, h39, h40, h41, h42, h43, h44, h45, h46, h47, h48, h49, h50, h51, h52, h53, h54, h55, h56, h57, h58, h59, h60, h61, h62, h63)
SELECT 'endpoint', bucket_hour, 'chat.completions', SUM(requests), SUM(errors),
    SUM(input_tokens), SUM(output_tokens), SUM(cost_usd), SUM(h00), SUM(h01), SUM(h02), SUM(h03), SUM(h04), SUM(h05), SUM(h06), SUM(h07), SUM(h08), SUM(h09), SUM(h10), SUM(h11), SUM(h12), SUM(h13), SUM(h14), SUM(h15), SUM(h16), SUM(h17), SUM(h18), SUM(h19), SUM(h20), SUM(h21), SUM(h22), SUM(h23), SUM(h24), SUM(h25), SUM(h26), SUM(h27), SUM(h28), SUM(h29), SUM(h30), SUM(h31), SUM(h32), SUM(h33), SUM(h34), SUM(h35), SUM(h36), SUM(h37), SUM(h38), SUM(h39), SUM(h40), SUM(h41), SUM(h42), SUM(h43), SUM(h44), SUM(h45), SUM(h46), SUM(h47), SUM(h48), SUM(h49), SUM(h50), SUM(h51), SUM(h52), SUM(h53), SUM(h54), SUM(h55), SUM(h56), SUM(h57), SUM(h58), SUM(h59), SUM(h60), SUM(h61), SUM(h62), SUM(h63)
FROM ledger_rollup WHERE dimension = 'provider' GROUP BY bucket_hour
ON CONFLICT (dimension, bucket_hour, grp) DO NOTHING;
