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
// with a negative net (other than the collector) pay in to its account
// (below); the positions net to zero, so what comes in and the
// collector's own net pay for what goes out. An account identification in ISO 20022 is
// at most 34 characters: a party whose settlement account line is longer
// is refused with its name, never cut.
//
// # Pay-ins expected
//
// A party in net debit pays in, and is asked to: the cycle lists the
// pay-ins it expects, each for minus the party's net, under a reference
// derived from the cycle and the party's rank by ID among those it asks
// (PayInReference, CCLR-YYYYMMDD-RNNNNN), in an incoming CSV beside the
// positions (Settlement.Incoming, WriteIncomingCSV); reconciliation
// (package recon) matches the collector's bank credits against them as
// it matches its debits against the payments. Who is asked is every
// party in net debit but the collector: an issuer of this city or of
// another (for its cards' records accepted here), an operator (whose
// adjustments or fees pass what it is owed), a funder, a payer of remote
// top-ups (what it collected from cardholders, less refunds and its
// commission). A direct debit (pain.008) is not requested: the
// instruction files are the payments we make, and a pay-in is the
// party's to make.
//
// # Settlement versions
//
// Which pay-ins a cycle expects, and so which files it writes, is a
// rule of the settlement, and rules change; a closed cycle's files do
// not. So the rules are versioned, and a cycle keeps the version it was
// computed under (clearing.Cycle.SettlementVersion, set by
// clearing.Cycle.Compute, stored with the cycle since migration 0038):
// Settle and Files write a cycle under its own version, never under the
// binary's latest, and refuse (Conflict) one they do not know. This is
// how clearing versions its other rules: a fee schedule or a concession
// share is chosen by the day it is in force on (clearing.InForce,
// clearing.Cycles.ClearerFor), and the fare table a cycle priced under
// is named in its result (clearing.Result.FareVersion). A version by
// day would not do here: the rule changes with the code, not on a day
// staff set, and the cycles computed before the change span any days.
// The version is the cycle's and not its result's, so that clearing
// stays a pure function of its inputs (the same result, to the byte,
// whichever binary clears the cycle again) and the version says only
// how its settlement is written. It is taken at compute rather than at
// close because what two people review and approve is the computed
// cycle: the version they signed off is the one it closes under, and a
// recompute (before approval) takes the version of its time.
//
//   - Version 0 (clearing.SettlementPayers), every cycle computed before
//     versions were kept (the stores read it as 0): pay-ins are expected
//     of the payers of the cycle's remote top-ups alone, ranked among
//     them, and the incoming CSV is written only for a cycle with remote
//     top-ups. A cycle without them writes its three files, byte for byte
//     as it closed with them (TestClosedBeforeVersions holds their
//     SHA-256), and its debtors' credits stay unmatched in
//     reconciliation, for staff to resolve, as they were. A cycle
//     computed before the upgrade and closed after it is of version 0
//     too (what was approved is what closes); a recompute, while it is
//     not approved, takes version 1.
//   - Version 1 (clearing.SettlementDebtors): a pay-in is expected of
//     every party in net debit but the collector, and every cycle writes
//     its incoming CSV (the header alone when nobody owes), so that the
//     files of one version are the same set.
//
// A new rule is a new version at the end of the list, with its case in
// Settle and Files; the old cases stay as long as a cycle of theirs
// may be written again.
package exchange
