-- 0032: a replacement's bike out; see the SQLite store's 0032.
ALTER TABLE apps_grants ADD COLUMN inside_since TEXT COLLATE "C" NOT NULL DEFAULT '' CHECK (inside_since = '' OR length(inside_since) = 14);
