// Package registry is the back office's register of who takes part in the
// card scheme and with what equipment: parties (card issuers, ours and
// other cities', operators: bus companies, metro, bikes, parking,
// merchants, funders: the transport bureau that funds concessions, and
// payers: the payment companies and top-up agents that collect
// cardholders' money for remote top-ups), each with the bank account it settles to, and terminals
// (validators, gates, POS, kiosks, parking meters), each with its PSAM,
// its operator, where it stands and the hash of its API credential.
//
// # Design
//
// The package holds the types, their rules and the small storage interface
// (Store) they need; it imports no SQL. sqlite.DB.Registry and
// postgres.DB.Registry implement Store; Registry wraps a Store and applies
// the rules (validation, status transitions, timestamps from an injected
// clock, credential issue and check), so that the storage layer stays a
// plain persistence layer and both stores behave the same by construction.
//
// A party is named by an ID that is also the party part of its ledger
// account names (ledger.Account): for an issuer, its issuer code in 16
// upper-case hex digits; for an operator, a funder or a payer, a short name of its
// own (letters, digits, '-', '_', '.'). Every party also has a Code, an
// 8-byte issuer code: an issuer's own code, the code under which the key
// store keeps an operator's record master key (terminal.PSAMKeys's
// Operator), so that acquisition can find the key that sealed a record,
// or a funder's or payer's institution code. The party types only grow
// at the end of their list (PartyFunder came third, PartyPayer fourth).
//
// Terminal credentials: the API authenticates a terminal by a bearer token
// of 32 random bytes (64 hex digits). The registry stores only the token's
// SHA-256 and compares hashes in constant time, so a copy of the database
// gives no one a terminal's credential. A token is shown once, when it is
// issued; losing it means issuing a new one, which revokes the old.
//
// A server authenticates through NewAuthCaching's Registry: a terminal
// authenticated is answered from memory for DefaultAuthTTL (a second), for
// the same token only and while it was active, so that a kiosk's two
// requests a load, thirty a second at the rush, cost one registry read a
// second rather than each one. Only successes are kept; a suspension or a
// new credential through that Registry refuses the terminal's next
// request, and one made by another process (the registry command) within
// the TTL.
//
// Errors: the stores answer in the registry's words ("no terminal
// 315001000001", "our own issuer is already registered: ..."), built by
// the functions of errors.go from the rule a write broke, so that both
// engines say the same sentence and no driver's text reaches a user. A
// read that fails for the database's sake is kind IO, never NotFound: a
// caller must not take "the database is down" for "no such terminal".
//
// Status: a terminal is active, suspended or retired. Active and suspended
// go both ways; retired is final (a retired terminal ID is never reused, so
// that its records stay attributable).
package registry
