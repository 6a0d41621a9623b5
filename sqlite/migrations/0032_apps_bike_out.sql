-- 0032: a replacement's bike out (package apps). The inside a grant's
-- card starts a new entitlement file with: a bike out on the old card
-- (its last record a hire), carried by Follow with the hire's date and
-- time, YYYYMMDDHHMMSS; '' for none.
ALTER TABLE apps_grants ADD COLUMN inside_since TEXT NOT NULL DEFAULT '' CHECK (inside_since = '' OR length(inside_since) = 14);
