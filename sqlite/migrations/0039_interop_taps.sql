-- 0039: the tap time of our cards' records taken in other cities
-- (package interop, interop.Tap): a lost or damaged card's records of
-- INC files are cut at its report as its purchases here are
-- (api.ShadowBalances, cms.SplitAtCut), so each needs its time.
-- interop_records has none, and its trigger keeps a record as it was
-- written, so the time is kept beside it: one row for each INC record,
-- written with it by the file's import and never changed. at_ns is Unix
-- nanoseconds.
CREATE TABLE interop_taps (
	file_id TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	at_ns   INTEGER NOT NULL,
	PRIMARY KEY (file_id, seq),
	FOREIGN KEY (file_id, seq) REFERENCES interop_records (file_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TRIGGER interop_taps_no_update BEFORE UPDATE ON interop_taps BEGIN SELECT RAISE(ABORT, 'tap times are append-only'); END;
CREATE TRIGGER interop_taps_no_delete BEFORE DELETE ON interop_taps BEGIN SELECT RAISE(ABORT, 'tap times are append-only'); END;

-- The INC records stored before take their time from their file, kept
-- whole: record SEQ is line SEQ + 1, "R|SEQ|...", and its date_time the
-- 13th field, YYYYMMDDHHMMSS in China time (UTC+8, no daylight saving).
-- The file's lines (which hold no quote or backslash: hex, digits, IDs
-- and '|') are split as the elements of a JSON array, one pass over the
-- file. A record whose line does not read so (none should: every file
-- was decoded strictly at its import) takes the time the file was
-- stored, which is no earlier than its tap: its record counts as after
-- a cut that came between its tap and its import, the issuer's.
WITH arrays AS (
	SELECT id, '["' || replace(CAST(body AS TEXT), char(10), '","') || '"]' AS lines
	FROM interop_files WHERE file_type = 'INC' AND sent = 0
), lines AS MATERIALIZED (
	SELECT a.id AS file_id, j.key AS seq, j.value AS line
	FROM arrays a, json_each(a.lines) j WHERE json_valid(a.lines) AND j.key > 0
), times AS (
	SELECT file_id, seq, json_extract('["' || replace(line, '|', '","') || '"]', '$[12]') AS dt
	FROM lines WHERE line GLOB 'R|' || seq || '|*'
), parsed AS (
	SELECT file_id, seq, unixepoch(substr(dt, 1, 4) || '-' || substr(dt, 5, 2) || '-' || substr(dt, 7, 2) || ' ' ||
		substr(dt, 9, 2) || ':' || substr(dt, 11, 2) || ':' || substr(dt, 13, 2)) AS s
	FROM times WHERE dt GLOB '[0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]'
)
INSERT INTO interop_taps (file_id, seq, at_ns)
SELECT r.file_id, r.seq, COALESCE((p.s - 28800) * 1000000000, f.at_ns)
FROM interop_records r JOIN interop_files f ON f.id = r.file_id
LEFT JOIN parsed p ON p.file_id = r.file_id AND p.seq = r.seq
WHERE r.out = 0;
