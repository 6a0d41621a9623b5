-- 0031: a money operation's answer, kept with its key; see the SQLite
-- store's 0031.
ALTER TABLE cms_operations ADD COLUMN answer TEXT NOT NULL DEFAULT '';
