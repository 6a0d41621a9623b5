// Package exchange writes (and, in later sessions, reads) the files the
// back office exchanges with banks and the national interconnection
// centre: for now a cycle's positions CSV and its settlement instructions
// (Settle), as ISO 20022 pain.001.001.09 credit transfers and as CSV.
// README.md describes the formats.
//
// Every file is a function of a cleared cycle (clearing.Result) and of
// what the registry says of its parties: no wall clock, host name, path
// or random ID goes into a file. The pain.001's creation time is the
// cycle's close time; its message, payment information and end-to-end
// IDs derive from the cycle's day and the order of its positions (by
// party ID). So re-running a cycle writes byte-identical files, which the
// golden files in testdata prove (go test ./exchange -update rewrites
// them).
//
// Settlement is through the collector (our issuer): its bank pays every
// party with a positive net position one credit transfer, and parties
// with a negative net (other than the collector) pay in to its account;
// the positions net to zero, so what comes in and the collector's own
// net pay for what goes out. An account identification in ISO 20022 is
// at most 34 characters: a party whose settlement account line is longer
// is refused with its name, never cut.
//
// The payers of remote top-ups (payment companies, top-up agents) pay
// in too, and are asked to: a cycle with remote top-ups lists the
// pay-ins expected from its payers, each under a reference derived from
// the cycle (PayInReference), in an incoming CSV beside the positions.
// A direct debit (pain.008) is not requested: the instruction files are
// the payments we make, and a pay-in is the payer's to make.
package exchange
