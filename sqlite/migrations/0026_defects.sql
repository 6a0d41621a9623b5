-- 0026: card management's flows name their card by issuer and ASN.
--
-- Two issuers may number their cards alike, and a flow that named its
-- card by ASN alone was read as every such card's (Store.Flows) and
-- counted under each one's product (Store.ProductFlowTotals). A flow
-- booked before this migration takes the issuer of the one card of its
-- ASN; one whose ASN two issuers' cards share cannot be told apart and
-- keeps issuer '' (read as no card's, under product "" in the float
-- report, where the flows of cards card management does not hold go).
ALTER TABLE cms_flows ADD COLUMN issuer TEXT NOT NULL DEFAULT '' CHECK (issuer = '' OR length(issuer) = 16);

DROP TRIGGER cms_flows_no_update;
UPDATE cms_flows SET issuer = COALESCE((SELECT MIN(c.issuer) FROM cms_cards c WHERE c.asn = cms_flows.asn HAVING COUNT(*) = 1), '');
CREATE TRIGGER cms_flows_no_update BEFORE UPDATE ON cms_flows
BEGIN SELECT RAISE(ABORT, 'cms: flows are append-only'); END;

DROP INDEX cms_flows_asn;
CREATE INDEX cms_flows_card ON cms_flows (issuer, asn);
