// Package ledger is the back office's general ledger: a double-entry,
// append-only journal of entries whose postings always balance, with
// running balances per account and a hash chain that makes tampering
// detectable.
//
// # Accounts
//
// An account is a type and, for most types, the party it belongs to (the
// party's registry ID): card_float:ISSUER is the stored value outstanding
// on an issuer's cards (a liability), operator_payable:OPERATOR what is
// owed to an operator pending clearing, suspense:ISSUER money held apart
// (grey records), interconnect_receivable:ISSUER what another city's
// issuer owes us for its cards used here (net of what we owe it for our
// cards used there: package interop), settlement:PARTY the money
// moving through a party's settlement (bank) account, fee_income our
// fees, card_deposit:ISSUER the deposits held for an issuer's cards,
// issuer_loss:ISSUER what the issuer bears of lost cards' use after their
// loss reports, and topup_pending:ISSUER the remote top-ups (补登) paid
// for its cards and not yet claimed on them, and error_receivable:PARTY
// what a party owes back after an error, such as a remote top-up refunded
// to its payer and credited on the card after all, and adjustment:ISSUER
// what the issuer paid onto its cards (or took back) by manual
// adjustments a supervisor approved (package cms books the last five).
// Accounts open themselves on their first posting; their names are the
// account's String form and never change.
//
// # Entries and postings
//
// A posting is a signed amount in fen on one account: positive debits,
// negative credits. An entry's postings sum to zero. A purchase moves
// money from the card float to the operator's payable:
//
//	Debit(Account{CardFloat, issuer}, fen), Credit(Account{OperatorPayable, operator}, fen)
//
// The ledger takes entries aggregated per upload batch, issuer, operator
// and product (Entry.Source names the batch, Entry.Count the records
// behind it), not one per record: the accepted-record journal of package
// acquire is the per-card subledger, and Source is the drill-down from one
// to the other.
//
// An unbalanced entry is a programmer error: NewEntry and Ledger.PostBatch
// panic on one. The stores refuse one too (a trigger checks every entry's
// postings as it is inserted), and Verify checks every stored entry.
//
// # Idempotency, reversal, the chain
//
// Every entry carries an idempotency key. The ledger stores the SHA-256 of
// the entry's canonical input (Entry.InputHash); posting a key again with
// the same input answers the first booking (Result.Replayed), with a
// different input it is a Conflict. Entries are never changed or deleted
// (the stores' triggers refuse it): a mistake is undone by a reversal, a
// new entry with the postings negated (Ledger.Reverse), at most one per
// entry.
//
// Entries are numbered densely from 1 (Seq) and chained: an entry's Hash
// is SHA-256 over the previous entry's hash, its Seq, its booking time and
// its input hash (Link.Next). One chain per ledger: a PostBatch takes the
// head once, links its entries in memory and writes them in the same
// transaction, so the chain costs one hash per entry and serializes
// nothing but what the single writer serializes anyway. Verify walks the
// chain from the first entry and names the first entry whose content or
// hash does not follow, and checks the running balances against the sum
// of the postings.
//
// Time is injected (New's now) and one timestamp stamps every entry of a
// PostBatch.
package ledger
