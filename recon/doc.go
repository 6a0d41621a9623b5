// Package recon reconciles (对账) the bank's statements of the collector's
// account against the settlement instructions of the closed clearing
// cycles and the pay-ins they expect: it reads the statement, matches its
// movements to the instructions and pay-ins, and keeps what does not
// match open, with its age, until staff resolve it, each resolution
// audited.
//
// # Statements
//
// A bank statement comes as ISO 20022 camt.053 (BkToCstmrStmt, any
// version 001.NN: the elements read have the same names in all) or in
// the CSV form README.md describes; ParseCAMT053 and ParseCSV read them
// strictly, with encoding/xml's tokenizer and encoding/csv. The XML is
// read into a tree of elements first, so that every error names the
// line and the element's path from the root
// (Document/BkToCstmrStmt/Stmt[1]/Ntry[2]/Amt), and a truncated file the
// elements it left open; a CSV error names the line and the column. A
// file is refused whole: past FileBytesMax, MovementsMax, PartsMax or a
// field's ISO 20022 length, not UTF-8, with a DTD, a currency other
// than CNY, a booking status other than BOOK, or transaction details
// whose amounts do not sum to their entry's. Amounts are read from their
// decimal text into fen with integer arithmetic (ParseYuan), never
// through a float, and more than two decimals is an error, not a
// rounding. Elements not read (balances, bank transaction codes,
// charges) are not checked: banks send many, and a statement is
// refused only for what reconciliation uses.
//
// # Pay-ins
//
// Money comes in too: a party whose net position is negative owes the
// collector, and a cycle lists the pay-ins it expects
// (exchange.Settlement.Incoming, the cycle's CCLR-YYYYMMDD-incoming.csv):
// of every party in net debit but the collector (an issuer of this city
// or another, an operator, a funder, a payer of remote top-ups) for a
// cycle computed under settlement version 1, of the payers alone for one
// computed before (version 0: exchange's package doc), each under its
// reference (CCLR-YYYYMMDD-RNNNNN, exchange.PayInReference: derived from
// the cycle and the party's rank, the reference the party is asked to
// quote). The settlements come from the cycles' files as they closed
// (Settlements), so what is expected of a cycle is what its incoming CSV
// asked, and a cycle closed before version 1 expects no more than it
// did: its other debtors' credits are movements nothing matches, for
// staff to resolve, as they were before.
// InstructionsOf makes each an Instruction of Direction Credit, the
// reference kept as its EndToEndID (apart from the payments'
// CCLR-YYYYMMDD-NNNNN, so one key and one table hold both), due on the
// cycle's close date as the payments are, with no remittance
// information of ours. A payment is an Instruction of Direction Debit.
// The two are matched alike, each only with movements of its own
// direction: a credit never pays a payment instruction, and a debit
// never brings a pay-in, whatever they name (they stay movements nothing
// matched). Amounts are signed as what leaves the account: a pay-in's
// InstructedFen, as a credit's BankFen, is negative, so that
// DifferenceFen reads the same way for both (a pay-in 1 yuan short
// differs by +100). A pay-in not made is an open unmatched_instruction
// of direction CRDT, aged from its due day, named by its reference,
// until a credit matches it (a late pay-in, in a later statement) or
// staff resolve it (written_off, corrected, accepted: not_ours is a
// movement's only).
//
// # Matching
//
// An import takes the instructions and pay-ins of the cycles closed in the
// statement's window (LookbackDays before its first booking day, plus
// the tolerance) from Settlements, keeps those not kept yet, and matches
// every instruction and movement still open (the statement's own, and
// those left over by earlier statements) in four passes, each over what
// the ones before left:
//
//  1. By EndToEndId: a movement's transaction details name the
//     instructions they pay. The instructions and movements so linked
//     form groups (a batch booking links one movement to several
//     instructions; a payment split links several movements to one),
//     matched when the movements sum to the instructions exactly,
//     mismatched otherwise (both sums kept). The date does not matter: the
//     identifier does.
//  2. By reference: a movement booked within ToleranceDays of an
//     instruction's due day (the cycle's close date, its requested
//     execution date), whose texts carry the instruction's EndToEndId (a
//     pay-in's reference) or remittance information, pays it when the
//     amounts are equal; one movement pays several so referred to when
//     it is their sum (a payer paying two cycles' pay-ins in one credit),
//     several movements one when theirs is (a split payment).
//  3. By cycle: a movement naming a cycle's message ID (CCLR-YYYYMMDD),
//     or a debit its payment information ID (CCLR-YYYYMMDD-1: the bank
//     booked the pain.001 as a whole), pays the one instruction of the
//     cycle left of its amount, or all of those left within the
//     tolerance when it is their sum.
//  4. What still refers to exactly one instruction, which no other
//     movement refers to, is that payment with a wrong amount:
//     mismatched.
//
// Every pass pairs an instruction only with movements of its direction
// (the end-to-end pass links nothing across directions). Amount and date
// alone, without a reference, match nothing: two parties paid the same
// amount on one day would be told apart by chance.
//
// Each movement's references are found once, by its words (runs of the
// characters of party and settlement IDs), and looked up in maps of the
// instructions' end-to-end IDs, remittance information and cycles, so
// that matching is linear in what it matches, not in its pairs.
// BenchmarkMatching, on this machine's 2 cores under a load average of
// 24: 1,000 instructions and the movements paying them in 2.1 ms by
// end-to-end ID, 2.4 ms by reference alone; 10,000 in 0.04 to 0.13 s
// (the first version, trying every pair, took 5.2 s and 41 s for
// 10,000).
//
// # Findings
//
// A Finding is a match, or an instruction or a movement nothing matched
// (named match-N, bank-N and by its EndToEndId or reference), with its
// Direction (DBIT: payments; CRDT: pay-ins). Matched ones are
// closed; the others are open, aged in days from the earliest day of
// their parts, until a later statement matches them (an instruction paid
// late) or staff resolve them: a Decision (corrected, accepted, not_ours
// for a movement, written_off), who, at which service point, and why. A
// resolved finding is never matched again.
//
// # Store and audit
//
// The Store writes a statement's import in one transaction: the
// statement, its movements, the instructions, and the matches decided
// over what it reads as open inside that transaction, so that a refused
// statement, or one whose matches could not all be kept, imports
// nothing. A file is known by its SHA-256: the same file twice is a
// replay that changes nothing, and another file under a statement ID
// already imported is refused. Matches, statements and resolutions are
// never changed and an instruction's or movement's match is set once:
// the stores' triggers refuse anything else. Pay-ins are rows of the
// instructions' table (migration 0034 gave it their direction, DBIT for
// every row kept before) under the same triggers.
//
// BenchReconImport (storetest) imports a statement of 10,000 payments of
// as many instructions, matched by reference, and lists the findings:
// 1.1 to 1.2 s on SQLite, 1.7 to 2.1 s on PostgreSQL (its rows sent in
// two batches: one query at a time took 8.4 s), on this machine's 2
// cores under a load average below 1.
//
// Resolutions (and imports) are audited in card management's
// hash-chained audit log (cms.AuditRecord, verified by cms.VerifyAudit
// and citycard audit verify), in the transaction that writes them:
// Actor the member of staff, ServicePoint theirs, Subject recon:ID
// (recon:statement:ID for an import), Action recon.resolve (recon.import),
// Before and After the finding as FindingView shows it. The log's record
// already says who did what where and when, with the thing before and
// after, and one chain to verify is better than two; its subjects do not
// collide with card management's (card:, holder:, staff:).
//
// # Not yet
//
// The pay-ins of debtors other than payers are expected only of cycles
// computed since settlement version 1; a camt.053 of several statements
// (accounts) is refused, one file per statement; the listing reads the
// whole store (SnapshotMax rows of each kind), with no archive of old
// closed findings.
package recon
