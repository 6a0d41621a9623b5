-- 0035: the cards in use by their expiry; see the SQLite store's 0035.
CREATE INDEX cms_cards_expiry ON cms_cards (expiry, issuer, asn) WHERE state IN ('issued', 'active');
