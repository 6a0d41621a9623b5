-- 0014 (as the SQLite store's 0014): the interconnection (package interop): the files exchanged with
-- the national interconnection centre and their records.
--
-- interop_files keeps every file exported or imported, whole (body) and
-- by its SHA-256: a file imported again is recognized by its ID and hash.
-- sent is 1 for the files we wrote. taken_day is the closed cycle that
-- settled a received ANS, INC or ERR file, set once in the transaction
-- that closes it. Times are Unix nanoseconds; days are days since
-- 1970-01-01.
CREATE TABLE interop_files (
	id         TEXT PRIMARY KEY CHECK (length(id) BETWEEN 1 AND 64),
	file_type  TEXT NOT NULL CHECK (file_type IN ('OUT', 'INC', 'ANS', 'ERR', 'DSP', 'CTY', 'BLK')),
	sent       BIGINT NOT NULL CHECK (sent IN (0, 1)),
	sha256     TEXT NOT NULL CHECK (length(sha256) = 64),
	day        BIGINT NOT NULL,
	sender     TEXT NOT NULL CHECK (length(sender) = 16),
	receiver   TEXT NOT NULL CHECK (length(receiver) = 16),
	refers     TEXT NOT NULL,
	records    BIGINT NOT NULL CHECK (records >= 0),
	amount_fen BIGINT NOT NULL,
	body       BYTEA NOT NULL,
	at_ns      BIGINT NOT NULL,
	taken_day  BIGINT,
	CHECK (taken_day IS NULL OR (sent = 0 AND file_type IN ('ANS', 'INC', 'ERR')))
);

-- The records of OUT files (out = 1: other cities' cards on our
-- terminals, pending until their issuer's answer) and INC files (out = 0:
-- our cards in other cities, decided by our verification at import).
-- acquirer is who is paid: our operator, or the acquiring city.
CREATE TABLE interop_records (
	file_id       TEXT NOT NULL REFERENCES interop_files (id),
	seq           BIGINT NOT NULL CHECK (seq > 0),
	out           BIGINT NOT NULL CHECK (out IN (0, 1)),
	issuer        TEXT NOT NULL CHECK (length(issuer) = 16),
	asn           TEXT NOT NULL CHECK (length(asn) = 20),
	counter       BIGINT NOT NULL,
	amount_fen    BIGINT NOT NULL CHECK (amount_fen >= 0),
	acquirer      TEXT NOT NULL,
	terminal_type BIGINT NOT NULL,
	product       BIGINT NOT NULL,
	card_type     BIGINT NOT NULL,
	state         TEXT NOT NULL CHECK (state IN ('pending', 'accepted', 'rejected')),
	reason        BIGINT NOT NULL,
	answered_by   TEXT NOT NULL,
	PRIMARY KEY (file_id, seq),
	CHECK ((state = 'pending') = (answered_by = ''))
);

-- One of our cards' records is accepted from other cities once.
CREATE UNIQUE INDEX interop_records_card ON interop_records (issuer, asn, counter) WHERE out = 0 AND state = 'accepted';
CREATE INDEX interop_records_answered ON interop_records (answered_by, file_id, seq) WHERE out = 1 AND answered_by <> '';

-- The records of ERR (error, 差错) and DSP (dispute, 争议) files, with the
-- record each corrects or disputes and that record's parties.
CREATE TABLE interop_corrections (
	file_id       TEXT NOT NULL REFERENCES interop_files (id),
	seq           BIGINT NOT NULL CHECK (seq > 0),
	file_type     TEXT NOT NULL CHECK (file_type IN ('ERR', 'DSP')),
	ref_file      TEXT NOT NULL REFERENCES interop_files (id),
	ref_seq       BIGINT NOT NULL,
	stage         BIGINT NOT NULL,
	amount_fen    BIGINT NOT NULL,
	reason        BIGINT NOT NULL,
	issuer        TEXT NOT NULL,
	acquirer      TEXT NOT NULL,
	out           BIGINT NOT NULL CHECK (out IN (0, 1)),
	product       BIGINT NOT NULL,
	card_type     BIGINT NOT NULL,
	terminal_type BIGINT NOT NULL,
	PRIMARY KEY (file_id, seq)
);
CREATE INDEX interop_corrections_ref ON interop_corrections (ref_file, ref_seq);

-- The records of CTY files (the interconnected cities) and BLK files
-- (other issuers' blacklists), with their days.
CREATE TABLE interop_cities (
	file_id     TEXT NOT NULL REFERENCES interop_files (id),
	seq         BIGINT NOT NULL CHECK (seq > 0),
	city        TEXT NOT NULL CHECK (length(city) = 4),
	institution TEXT NOT NULL CHECK (length(institution) = 16),
	added       BIGINT NOT NULL CHECK (added IN (0, 1)),
	announced   BIGINT NOT NULL,
	effective   BIGINT NOT NULL,
	name        TEXT NOT NULL,
	PRIMARY KEY (file_id, seq)
);

CREATE TABLE interop_listings (
	file_id   TEXT NOT NULL REFERENCES interop_files (id),
	seq       BIGINT NOT NULL CHECK (seq > 0),
	issuer    TEXT NOT NULL CHECK (length(issuer) = 16),
	asn       TEXT NOT NULL CHECK (length(asn) = 20),
	added     BIGINT NOT NULL CHECK (added IN (0, 1)),
	reason    TEXT NOT NULL,
	effective BIGINT NOT NULL,
	PRIMARY KEY (file_id, seq)
);

-- Nothing is removed; a file changes only by the cycle taking it, once; a
-- record only by its answer, once.
CREATE FUNCTION interop_files_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR OLD.taken_day IS NOT NULL OR NEW.taken_day IS NULL OR OLD.id IS DISTINCT FROM NEW.id OR OLD.file_type IS DISTINCT FROM NEW.file_type
		OR OLD.sent IS DISTINCT FROM NEW.sent OR OLD.sha256 IS DISTINCT FROM NEW.sha256 OR OLD.body IS DISTINCT FROM NEW.body
		OR OLD.records IS DISTINCT FROM NEW.records OR OLD.amount_fen IS DISTINCT FROM NEW.amount_fen OR OLD.day IS DISTINCT FROM NEW.day
		OR OLD.sender IS DISTINCT FROM NEW.sender OR OLD.receiver IS DISTINCT FROM NEW.receiver OR OLD.refers IS DISTINCT FROM NEW.refers
		OR OLD.at_ns IS DISTINCT FROM NEW.at_ns THEN
		RAISE EXCEPTION 'an interconnection file is never changed or removed: only the cycle that settles it is set, once';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER interop_files_once BEFORE UPDATE OR DELETE ON interop_files FOR EACH ROW EXECUTE FUNCTION interop_files_once();
CREATE TRIGGER interop_files_no_truncate BEFORE TRUNCATE ON interop_files FOR EACH STATEMENT EXECUTE FUNCTION interop_files_once();

CREATE FUNCTION interop_records_once() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP <> 'UPDATE' OR OLD.state <> 'pending' OR NEW.state = 'pending' OR OLD.file_id IS DISTINCT FROM NEW.file_id OR OLD.seq IS DISTINCT FROM NEW.seq
		OR OLD.out IS DISTINCT FROM NEW.out OR OLD.issuer IS DISTINCT FROM NEW.issuer OR OLD.asn IS DISTINCT FROM NEW.asn
		OR OLD.counter IS DISTINCT FROM NEW.counter OR OLD.amount_fen IS DISTINCT FROM NEW.amount_fen OR OLD.acquirer IS DISTINCT FROM NEW.acquirer
		OR OLD.terminal_type IS DISTINCT FROM NEW.terminal_type OR OLD.product IS DISTINCT FROM NEW.product OR OLD.card_type IS DISTINCT FROM NEW.card_type THEN
		RAISE EXCEPTION 'an interconnection record is never changed or removed: only a pending one is answered, once';
	END IF;
	RETURN NEW;
END $$;
CREATE TRIGGER interop_records_once BEFORE UPDATE OR DELETE ON interop_records FOR EACH ROW EXECUTE FUNCTION interop_records_once();
CREATE TRIGGER interop_records_no_truncate BEFORE TRUNCATE ON interop_records FOR EACH STATEMENT EXECUTE FUNCTION interop_records_once();

CREATE FUNCTION interop_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'interconnection error, dispute, city and blacklist records are append-only';
END $$;
CREATE TRIGGER interop_corrections_append_only BEFORE UPDATE OR DELETE ON interop_corrections FOR EACH ROW EXECUTE FUNCTION interop_append_only();
CREATE TRIGGER interop_corrections_no_truncate BEFORE TRUNCATE ON interop_corrections FOR EACH STATEMENT EXECUTE FUNCTION interop_append_only();
CREATE TRIGGER interop_cities_append_only BEFORE UPDATE OR DELETE ON interop_cities FOR EACH ROW EXECUTE FUNCTION interop_append_only();
CREATE TRIGGER interop_cities_no_truncate BEFORE TRUNCATE ON interop_cities FOR EACH STATEMENT EXECUTE FUNCTION interop_append_only();
CREATE TRIGGER interop_listings_append_only BEFORE UPDATE OR DELETE ON interop_listings FOR EACH ROW EXECUTE FUNCTION interop_append_only();
CREATE TRIGGER interop_listings_no_truncate BEFORE TRUNCATE ON interop_listings FOR EACH STATEMENT EXECUTE FUNCTION interop_append_only();
