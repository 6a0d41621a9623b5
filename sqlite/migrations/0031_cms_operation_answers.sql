-- 0031: a money operation's answer, kept with its key, so that a retry
-- answers what the first try did (a refund's quote: its fee and payout,
-- whatever late records arrived since); '' for an operation that answers
-- only its cards. See cms.Booking.Answer.
ALTER TABLE cms_operations ADD COLUMN answer TEXT NOT NULL DEFAULT '';
