-- 0035: the cards in use by their expiry, for the clock's expiry run
-- (cms.Manager.ExpireDue, Store.CardsExpired): an indexed read of the
-- few due, never a walk of every card.
CREATE INDEX cms_cards_expiry ON cms_cards (expiry, issuer, asn) WHERE state IN ('issued', 'active');
