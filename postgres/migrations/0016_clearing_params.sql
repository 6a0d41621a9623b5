-- 0016 (as the SQLite store's 0016): the versions of the concession
-- shares, the commission schedules and the net debit caps
-- (clearing.ParamStore). One row per version, never changed or removed.
CREATE TABLE clearing_param_versions (
	kind          TEXT NOT NULL CHECK (kind IN ('concession', 'commission', 'debit_cap')),
	party         TEXT NOT NULL CHECK (length(party) BETWEEN 1 AND 32),
	effective_day BIGINT NOT NULL,
	body          TEXT NOT NULL,
	set_by        TEXT NOT NULL,
	set_ns        BIGINT NOT NULL,
	PRIMARY KEY (kind, party, effective_day)
);

CREATE FUNCTION clearing_param_versions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'clearing parameter versions are never changed or removed: set a new one';
END $$;
CREATE TRIGGER clearing_param_versions_append_only BEFORE UPDATE OR DELETE ON clearing_param_versions
	FOR EACH ROW EXECUTE FUNCTION clearing_param_versions_append_only();
CREATE TRIGGER clearing_param_versions_no_truncate BEFORE TRUNCATE ON clearing_param_versions
	FOR EACH STATEMENT EXECUTE FUNCTION clearing_param_versions_append_only();
