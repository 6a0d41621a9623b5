-- 0039: the tap time of our cards' records taken in other cities; see
-- the SQLite store's 0039.
CREATE TABLE interop_taps (file_id TEXT NOT NULL, seq BIGINT NOT NULL, at_ns BIGINT NOT NULL, PRIMARY KEY (file_id, seq),
	FOREIGN KEY (file_id, seq) REFERENCES interop_records (file_id, seq));

CREATE FUNCTION interop_taps_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'tap times are append-only'; END $$;
CREATE TRIGGER interop_taps_append_only BEFORE UPDATE OR DELETE ON interop_taps FOR EACH ROW EXECUTE FUNCTION interop_taps_append_only();
CREATE TRIGGER interop_taps_no_truncate BEFORE TRUNCATE ON interop_taps FOR EACH STATEMENT EXECUTE FUNCTION interop_taps_append_only();

-- The INC records stored before take their time from their file's line,
-- its 13th field (YYYYMMDDHHMMSS, China time: UTC+8), each file split
-- into lines once; a record whose line does not read so takes the time
-- the file was stored, as on SQLite.
INSERT INTO interop_taps (file_id, seq, at_ns)
SELECT r.file_id, r.seq, COALESCE(p.ns, f.at_ns)
FROM interop_records r JOIN interop_files f ON f.id = r.file_id
LEFT JOIN (
	SELECT l.file_id, l.seq, (EXTRACT(EPOCH FROM make_timestamp(substr(l.dt, 1, 4)::int, substr(l.dt, 5, 2)::int, substr(l.dt, 7, 2)::int,
		substr(l.dt, 9, 2)::int, substr(l.dt, 11, 2)::int, substr(l.dt, 13, 2)::int))::bigint - 28800) * 1000000000 AS ns
	FROM (
		SELECT f.id AS file_id, s.n - 1 AS seq, s.line, split_part(s.line, '|', 13) AS dt
		FROM interop_files f, regexp_split_to_table(convert_from(f.body, 'UTF8'), E'\n') WITH ORDINALITY AS s(line, n)
		WHERE f.file_type = 'INC' AND f.sent = 0
	) l
	WHERE l.seq > 0 AND l.line LIKE 'R|' || l.seq || '|%' AND l.dt ~ '^[0-9]{14}$'
) p ON p.file_id = r.file_id AND p.seq = r.seq
WHERE r.out = 0;
