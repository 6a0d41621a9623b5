-- 0026: card management's flows name their card by issuer and ASN; see
-- the SQLite store's 0026.
ALTER TABLE cms_flows ADD COLUMN issuer TEXT NOT NULL DEFAULT '' CHECK (issuer = '' OR length(issuer) = 16);

ALTER TABLE cms_flows DISABLE TRIGGER cms_flows_append_only;
UPDATE cms_flows f SET issuer = COALESCE((SELECT MIN(c.issuer) FROM cms_cards c WHERE c.asn = f.asn HAVING COUNT(*) = 1), '');
ALTER TABLE cms_flows ENABLE TRIGGER cms_flows_append_only;

DROP INDEX cms_flows_asn;
CREATE INDEX cms_flows_card ON cms_flows (issuer, asn);
