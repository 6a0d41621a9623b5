// Package clearing computes who owes whom for a cycle's records (清分):
// cycles per business day, the proof that a cycle took its whole journal
// range, operators' fees, and the net position of every party.
//
// # Cycles
//
// A cycle is one business day. Calendar says which day an instant belongs
// to: day D runs from the cut-off of D-1 to the cut-off of D (default
// 24:00 Asia/Shanghai, so that D is its civil date; a cut-off of 22:00
// makes D begin at 22:00 on D-1). A record belongs to the cycle of its
// acceptance (the time acquisition committed it), not of its tap: a tap
// uploaded three days late is cleared three days late.
//
// A cycle is opened, computed, reviewed, approved and closed; the moves
// allowed are one table (transitions in cycle.go) and any other is a
// Conflict naming the cycle, its state and the move. Computing claims a
// journal range, (From, To]: From is the previous cycle's To, so that the
// ranges of consecutive cycles are contiguous and no entry falls between
// two cycles or into two. It may run again (a recompute sends a reviewed
// cycle back to computed: the review was of another result). Approval
// needs a second person, not the reviewer. An approved cycle's claim is
// fixed: a record committed after it (the journal's writer took its
// timestamp before the cut-off but committed after the claim) goes into
// the next open cycle (Calendar.Place), never into a fixed one. A
// rejection sends a cycle back to opened, its claim dropped. A closed
// cycle is immutable: nothing leaves closed, and a correction of it is an
// adjustment in a later cycle. The Cycle methods return the moved cycle
// and leave the receiver as it was, so that a refused move changes
// nothing.
//
// # Completeness before computing
//
// Gather claims the cycle's range from the Journal (the records after the
// previous cycle's To committed before the cut-off) with the journal's
// own count and sum of their amounts, computed by the store apart from
// the reading of the records; then reads the records and Check proves
// that the cycle took exactly the range: every position once, in order,
// and the same count and sum. A read that silently drops a row (Mojaloop
// lost a dollar at 10 TPS to a join that dropped rows not yet written)
// fails with Conflict naming the first position missing, before anything
// is summed. The amount of every entry counts, whatever its class
// (duplicates and loads included): the claim is of journaled records, and
// what the cycle clears of them is decided after.
//
// The stores implement Journal from what acquisition commits with each
// chunk of the journal (one committed batch): its count, the sum of its
// amounts and its commit time, kept in a table of their own
// (acquire_chunk_totals). Claim counts the range twice, from the chunks
// and from their totals, and sums it from the totals alone, in one
// statement (one snapshot); Entries reads the chunks joined to their
// totals for the commit time. So the claim's count and sum are not those
// of the rows Entries returns, and a join that drops a chunk (a totals
// row missing) fails Check, as it should. The chunks committed before
// their totals were kept (a journal older than migration 0010) get them
// when the store is next opened, each chunk's commit time its batch's; a
// chunk without totals after one with them makes the claim of its range
// fail with Conflict (the tables disagree: someone changed them).
//
// # Grey records decided later
//
// A grey record is in suspense until a later record (or load) of its card
// confirms it, releases it, or reverses its confirmation (acquire/doc.go).
// Acquisition moves that money in the deciding batch's ledger postings
// and keeps each move apart in the journal (acquire.GreyDecision, one
// row each, at the deciding entry's position), in the same commit, so
// that clearing sees it exactly once, in the cycle of the entry that
// decided it, with no replay of acquisition's state: a grey record of
// day 1 confirmed by a tap of day 2 pays its operator in day 2's cycle.
// The claim counts and sums a range's grey decisions too, and Gather
// proves it took them all (CheckGreys). Clear clears a confirmation as a
// record of the grey's operator, issuer, product, card type and channel
// (its own Line, Grey "confirmed"), fee included; a reversal is the same
// line negated (Grey "reversed": the operator repays the fare and the
// collector the fee, exactly what the confirmation charged under the same
// schedule); a release moves no party (the money goes back to the card
// float, the issuer's) and is only counted. A confirmation of another
// city's card's grey record, and its reversal, is pending its issuer as
// its recovered record would be (acquire.PendingIssuerDecided, from the
// deciding entry's flags: Grey.PendingIssuer): no line, no position,
// counted in Result.GreysPending; the ledger holds it against the
// issuer's interconnection receivable. The cycle's OUT file sends the
// grey record itself (package interop: Export reads it back by the
// decision's GreyPos), and its issuer's answer settles it as any of its
// records: accepted, in the next cycle to close (Interconnect's
// InteropAccepted); rejected, reversed in the ledger at the answer's
// import.
//
// # Fees and rounding
//
// Every operator or merchant may have a FeeSchedule: rules in order, the
// first that applies to a record (by product, card type and channel, the
// type of the terminal that took it) charging it a rate in parts per
// million of its amount and/or a fixed fee, bounded by a minimum and a
// cap. A party without a schedule, or a record no rule applies to, pays
// no fee. The exact fee is in micro-fen (a rate in ppm of an amount in
// fen is exact in micro-fen); a minimum and a cap are compared with the
// exact fee, and only a fee between them is rounded, per record, the way
// Config.Rounding says (down, half up, half even). What rounding took or
// added is the remainder: summed per party over the cycle, its whole fen
// are booked to a named account (Config.RoundingAccount), the party
// paying them to the collector of fees, and the fraction of a fen left is
// carried into the next cycle, an input of it like an adjustment. So what
// a party pays (fees plus remainder booked) plus what it carries is
// exactly what it owes, to the micro-fen, over any number of cycles.
// The default account is fee_income:rounding (DefaultRoundingAccount):
// the ledger has no account type of its own for remainders, so the party
// part names them, and no registry party may take the ID "rounding"
// while the default stands.
//
// # Positions
//
// Clear is a pure function of the cycle's Input (its claim and records,
// adjustments, the rounding carried from the previous cycle) under one
// Config: no clock, no store, no map order reaches its Result, whose
// every list is sorted, so the same input gives the same result and the
// same files. Of the records it took, it clears the booked and recovered
// records of cards whose TAC we verified; it counts apart the records of
// other cities' cards (pending their issuer's verification), grey records
// in suspense, duplicates and loads, and the five add up to the claim.
// It aggregates the cleared records into Lines (issuer, operator,
// product, card type, channel, fee rule): the card's issuer pays the
// fare, the operator receives the fare minus its fee, the collector (our
// issuer, Config.Collector) the fee. Each cleared record's three legs are
// summed apart and must sum to zero, and the lines to the cleared totals;
// then the positions: per party, receivable, payable and net, from the
// lines, the rounding booked and the adjustments. They net to zero, or
// Clear panics: a cycle that does not net is a bug, never a result. A
// party with a net debit cap (Config.DebitCapsFen) whose net is below
// minus its cap is reported in Result.Breaches, before settlement; a net
// exactly at the cap is not a breach.
//
// A correction of a closed cycle is an Adjustment in a later one: staff
// name it (Ref, unique), the cycle it corrects (earlier than the one
// that takes it), the payer, the payee and the amount.
//
// # Concessions
//
// The discount on a concession rider's fare and the transfer discounts
// are compensated to operators by their funders (the city's transport
// bureau, ...), each by a configured share (ConcessionVersion: per
// funder, the first of its shares that applies to the kind of discount,
// the record's rider category and the operator; versioned by day as fee
// schedules are). Each cleared record is one leg on one operator's
// terminal, and its discounts are that operator's: a journey's
// compensation is split between the operators of its legs, each paid
// for the discount on its own leg (a transfer discount falls on the leg
// that got it, the later one). Two kinds:
//
//   - transfer (ConcessionTransfer): the record's full fare (FareFull:
//     the leg's fare at the rider's category before transfers) less its
//     amount. Both are in the journal (the PSAM's record MAC seals them),
//     so no re-pricing is needed. The record does not tell a transfer
//     from a fare cap or spend tier (all lower the amount below the full
//     fare), so a transfer share compensates what they took too; a ride
//     paid with a pass or count ticket (a product) is left out (its full
//     fare was paid by the product's sale).
//   - category (ConcessionCategory): the leg's full fare at the fare
//     table's default category less its full fare at the rider's. The
//     journal holds only the latter (FareFull is the rider's category's
//     fare), so clearing re-prices the record with the fare table in
//     force (Fares; TableFares over terminal.FareEngine: Recheck, then
//     FullFare at the default category), inside Gather (GatherPriced),
//     for cleared stored-value records of another category. It is a pure
//     function of the record and the table, so a cycle cleared again
//     claims the same, and the result names the table (Result.FareVersion,
//     and the concessions file). A record the table prices otherwise than
//     it states is not claimed on (counted in Result.Unpriced); a tap-on
//     and a maximum fare (a missing tap-on or tap-off: a penalty) carry
//     no category discount, nor does the penalty a record paid for an
//     earlier leg. Re-pricing is not journey reconstruction: the leg is
//     priced alone, as Recheck reads it. Without a fare table (clear run
//     without --fares) no category discount is claimed. Grey records
//     confirmed carry no concession (their decision does not carry the
//     record's fare), nor do other cities' cards.
//
// A funder's share of a record's discount is rounded per record the way
// Config.Rounding says; the remainder is booked with the funder's
// rounding (RoundingLine: whole fen to the rounding account, the fraction
// carried), so no fraction is lost. Shares of one discount summing past
// the whole of it are refused (Invalid). The funder pays each operator
// its claim (ConcessionLine: per funder, operator, rider category and
// kind) in the positions, and the claims are written with the cycle's
// files (exchange: CCLR-YYYYMMDD-concessions.csv). A funder is a party
// of the registry's own type (registry.PartyFunder): with
// Cycles.PartyType set (citycard wires the registry), SetConcessions
// takes a funder's shares only of a registered funder to registered
// operators, so that every claim names a real party with its position.
//
// # Loads and commissions
//
// Loads come from the ledger (GatherLoads): card management's entries of
// type load (a sale's first load, a counter's, a kiosk's, a partner
// bank's) move money from the settlement account of the channel it came
// in through to the issuer's card float; a load the card never credited
// is taken back by a ledger reversal of its entry (type reversal, naming
// the load's Seq: a negative load, whichever cycle took the load; a
// reversal of anything else is not a load). A cycle
// claims the ledger range (From, To] after the previous cycle's, To the
// last entry booked before its cut-off, read densely (a skipped Seq is
// Conflict), as it claims the journal: an entry stamped before the
// cut-off but committed after the claim is the next cycle's. In the
// positions, a channel other than the issuer (a top-up agent, a partner
// bank, a payment company) owes the issuer what came in through it, and
// earns its commission: a commission schedule per channel in the fee
// file format (its rules list no products, card types or channels: a
// load names only its channel and issuer), percentage and/or fixed per
// load, minimum and cap, rounded per load, a reversal taking back what
// its load earned; the remainder is booked with the channel's rounding,
// negated (the channel is owed it). The collector pays the commission.
//
// A remote top-up's claim (补登) at a kiosk is a load too, but from the
// issuer's top-up pending account, where the payment put the money when
// the cardholder paid online (or, for a claim's late TAC after the
// top-up was refunded, from an error receivable: error handling's to
// reclaim). It is taken as a load through the issuer itself: counted in
// the cycle's loads, moving no position and earning no commission. No
// agent took cash for it: the money came through the payment channel
// at the payment, and the kiosk that wrote it onto the card is the
// issuer's own; paying the kiosk's owner for writing a load already
// paid would pay twice for one top-up, and an agent's counter that
// claims one took nothing. (Before this rule GatherLoads refused such
// an entry, Invalid, and the cycle could not be cleared.)
//
// # Remote top-ups and their payers
//
// A remote top-up paid on the web or in the app is money the payer (a
// payment company such as Alipay or WeChat Pay, a top-up agent, a
// partner bank: a registry party of type payer, registry.PartyPayer,
// or the issuer itself for a bank card it acquires) collected from the
// cardholder and owes the issuer: card management books it
// settlement:PAYER -> topup_pending:ISSUER, and its refund (expired
// unclaimed, or asked back) the other way (cms.EntryTopUp). GatherLoads
// takes these entries from the same ledger range as the loads
// (TopUpMove, each naming its top-up by cms.TopUpOfEntry and its card
// by the entry's source), and Clear makes the payer owe the issuer the
// payments less the refunds, per payer and issuer (TopUpLine): a
// refund nets against the payer's receivable in the cycle that books
// it, whichever cycle took the payment, since the payer paid it back to
// the cardholder. The payer's commission is its commission schedule's
// (Config.Commissions, the loads' format and rules), on the payment: a
// refund takes back what its payment earned, the top-up having never
// reached a card; the remainder is booked with the payer's rounding,
// negated. A top-up paid through the issuer itself moves no position
// and earns nothing, as a load at its own counter. Neither a payment
// nor a refund touches the float (Result.TopUpsPaid, TopUpsRefunded
// count them apart from Loaded): the float moves when a top-up is
// claimed, a load through the issuer, so float change = loads -
// purchases - refunds still holds, and the pending account's change is
// paid - claimed - refunded.
//
// A payer pays us: its negative net is a receivable. The cycle's files
// make no direct-debit request (no pain.008) and the pain.001 stays the
// payments the collector makes (a payer whose refunds pass its
// collections is paid in it as any party with a positive net); the
// pay-in expected from a payer is listed with a reference of its own in
// the cycle's incoming CSV (exchange, CCLR-YYYYMMDD-incoming.csv), as
// every party's in net debit is (Settlement versions, below), beside
// the top-up lines (CCLR-YYYYMMDD-topups.csv, written only for a cycle
// with remote top-ups, so that a cycle closed before them is written
// again byte for byte). Each payer has a statement
// (Cycles.Statements): its top-ups read again from the cycle's ledger
// range, each with its ledger entry, top-up ID and card, summed by
// issuer and day, its loads as a channel if it is one too, checked
// against the cycle's lines and position.
//
// # Settlement versions
//
// Every party in net debit but the collector pays in what it owes to
// the collector's account: an issuer (of this city, or another city's
// for its cards' records accepted here), an operator whose adjustments
// or fees pass what it is owed, a funder, a payer. Which of those pay-ins
// the cycle's files ask for, and so which files it writes, is a rule of
// the settlement, versioned (SettlementVersion): a cycle takes the
// version of its time when computed (Cycle.Compute: SettlementCurrent)
// and keeps it, stored with it, so that a closed cycle's files are
// written again as it closed with them by any later binary, whose rules
// may be others. Version 0 (SettlementPayers), every cycle computed
// before versions were kept, asked only the payers of remote top-ups;
// version 1 (SettlementDebtors) asks every debtor. The version is the
// cycle's, not its Result's: Clear does not see it, and a cycle cleared
// again gives the same Result whichever version it has. Package
// exchange writes the files under it and says why it is kept so.
//
// # Net debit caps
//
// A party may have a net debit cap (CapVersion, versioned by day): a
// net below minus its cap is a Breach in the cycle's result, and the
// cycle cannot be reviewed or approved while it has one (Conflict naming
// the party, its net, its cap and by how much): the breach is settled
// first (the party prefunds, an adjustment, a new cap) and the cycle run
// again.
//
// # Fee schedule versions and adjustments, stored
//
// A party's fee schedule is versioned by the day it takes effect
// (FeeVersion): the version in force on day D is the party's latest
// effective on or before D (InForce), and Cycles.Run clears D under the
// versions in force on it, read from the FeeStore; so a re-run of a day
// clears under the same schedules whatever was set for later days. A
// version is never changed: a new schedule is a new version, and one
// effective on or before the latest closed cycle is refused (it would
// change what a closed cycle cleared, were it run again). Versions come
// from a file (DecodeFees, strict: the file, line and field in every
// error; the format in README.md), and the store keeps each version in
// that format, so that what it reads back goes through the same decoder.
//
// Staff enter an adjustment (Cycles.Adjust) as a correction of a closed
// cycle between one party and the collector, under a reference that is
// its idempotency key: the same reference with the same correction by
// the same person is the stored one (a retry), with anything else
// Exists. It counts in no cycle until a second person, not who entered
// it, approves it; then the next cycle run after the one it corrects
// takes it (every approved adjustment no closed cycle took), and the
// store's Save of the cycle closing with it marks it taken, in the same
// transaction, so that no other cycle takes it again. Before that close,
// a recompute of the cycle takes it again, as it takes any adjustment
// approved meanwhile.
//
// # Cycles over their store
//
// Cycles runs a city's cycles over their Store and the Journal: Run
// opens a day's cycle if need be and computes it (again), from the range
// after the previous cycle's, carrying its rounding; the previous cycle
// (the latest stored before the day) must be closed, so that each range is
// fixed before the next is claimed and no two cycles take one entry. Days
// without a cycle in between are skipped: their records go into the next
// cycle run, counted Late, and such a day is never opened afterwards
// (its range is taken). Approve is the two people's sign-off (a
// computed cycle is reviewed, a reviewed one approved by someone else);
// Close makes it final and keeps the SHA-256 of its settlement files,
// written at close by the exchange package, so that any later writing of
// them is checked to be the same bytes. Each move is saved from the state
// it was read in (Store.Save's was): of two members of staff racing on a
// cycle, one gets Conflict. The store keeps the whole Result (JSON),
// who computed, reviewed, approved and closed the cycle, and when, and
// the settlement version it was computed under; its triggers refuse any
// change to a closed cycle and the removal of any.
//
// # Statements
//
// Cycles.Statements reads a closed cycle's journal range again (the range
// it claimed, not a new claim: a record committed after the claim is the
// next cycle's) and gives each operator its records with their TACs,
// summed by transit line, terminal and tap day, each record's fee
// computed under the schedules in force on the day, as Clear charged it;
// then the rounding booked and the adjustments to the party's position.
// Each statement is checked against the cycle's result (the operator's
// record lines, its position) and a disagreement is Conflict: a
// statement says what the cycle cleared or nothing. Grey decisions are
// on the cycle's lines, not yet in statements.
//
// # Speed
//
// Clear makes one map look-up per cleared record (the line, whose key
// also picks the fee rule) and integer arithmetic; everything else is per
// line or per party. BenchmarkClear clears a million booked records of
// four issuers across 50 operators, each with a four-rule schedule: 5.2
// to 5.6 million records a second on this machine's 2 cores shared with
// other work (2.7 to 4.1 million under a load of 7): a 20M-record day's
// core in about 4 s of the 60 s budget, the rest left for reading
// the journal.
//
// Over the store, citycard bench clear books a day across 100 operators
// (85% our cards, 10% the city's two other issuers', 5% other cities',
// pending) and times the whole cycle: claim, read, prove, clear, approve,
// close and write the files. On this machine's 2 cores, shared with
// other work (load average 5 to 7): SQLite, 1M records in 0.7 to 1.7 s
// (600,000 to 1,390,000 records a second), 20M in 28 to 38 s (714,000
// to 524,000 a second, 3.5 to 3.7 GB peak: the items of the whole day
// are held in memory; the journal's reading and the decoding of records
// take most of the time); PostgreSQL, 1M in 1.3 to 2.5 s (786,000 to
// 398,000 a second). The two engines write the same files for the same
// seed, and so does every run.
//
// Concessions cost little in Clear (BenchmarkClearConcessions, a fifth
// of the records a student's: 3.48 million records a second against
// 3.52 without, one core, load average 3.8), but their category
// discounts' re-pricing in Gather does: about 12 microseconds of one
// core per concession rider's record (BenchmarkCategoryDiscount, the
// Ningbo sample), 47 CPU-seconds for 4 million of a Beijing day: clear
// run prices only with --fares, and a cache of legs priced (by network,
// stations, times and category) is the next step.
//
// # Interconnection
//
// Records of other cities' cards are counted pending in the cycle of
// their acceptance and paid to no one there; package interop exports
// them, imports their issuers' answers and our cards' records taken
// elsewhere, and through the Interconnect hook (interop.go) the next
// cycle run takes each file imported since, whole: the accepted records
// cleared as records are (Line.Interop "accepted", the issuer paying the
// operator, the fee charged), our cards' records taken elsewhere paid by
// our issuer to the acquiring city ("incoming"), error records'
// corrections ("correction"), the rejected only counted. The cycle names
// the files it took (Result.InteropFiles) and the store's Save of its
// close marks them taken, so that no later cycle takes one again.
//
// # Card float
//
// The float (沉淀资金) is the stored value outstanding on an issuer's
// cards: what the issuer owes its cardholders. ReconcileFloat takes three
// figures of it per issuer, in fen, and names the one that disagrees
// when the other two agree ("all" when none do). Each is defined so that
// no upload or operation in flight moves one without the others, and a
// difference is money booked on one side and not the other:
//
//  1. The ledger: card_float:ISSUER's credits minus its debits. Credits
//     are the loads card management's online host booked (a sale's
//     first load included), the balance moved in to a replacement, the
//     loss borne, the adjustments credited, and acquisition's grey
//     records released or reversed; debits are the purchases
//     acquisition booked (a grey one from its arrival: its money waits
//     in suspense:ISSUER), the loads reversed, the refunds, the balance
//     moved out and the adjustments debited.
//  2. The shadows: card management's book (its flows over every card:
//     loads - loads reversed - refunds - moved out + moved in + loss
//     borne + adjust credit - adjust debit; cms.BookTotal) less the purchases booked as acquisition
//     counts them: the load records the journal holds (class load,
//     each once) less the shadows' booked balances, plus their grey
//     records in suspense (acquire.Acquirer.Float). A shadow sees a load
//     only when its record is uploaded (a sale's first load never is),
//     so its booked balance alone is short of the float by the loads
//     not uploaded; taking the purchases from it, and the loads from
//     card management, leaves no such artefact. It differs from (1) when
//     acquisition's postings and its journal disagree, or card
//     management's flows and its postings do.
//  3. The book: card management's book less the purchases booked as the
//     ledger counts them (the float's debits less card management's own:
//     refunds, loads reversed, moved out, adjustments debited). It differs from (1) when card
//     management's credits and the ledger's disagree (a load posted and
//     not kept as a flow, or the reverse), and, as a timing-free but
//     real caveat, by acquisition's credits to the float (greys released
//     or reversed), which it does not take off: a store with those shows
//     them here as a book difference.
//
// The book's purchases are the float's debits less card management's
// less acquisition's own credits to the float, the grey records
// released or reversed, as the journal's grey decisions count them (a
// store with such decisions showed them as a book difference before;
// now a ledger credit without its journal decision is one).
//
// Card management keeps only our own issuer's cards (flows name a card
// by ASN alone), so another issuer's (2) is its shadows' booked balances
// less suspense, plus its purchases pending their issuer and their grey
// records, less the greys released or reversed (on the shadow, taken
// from interconnect_receivable, never from the float), it
// has no (3), and only (1) and (2) are reconciled ("ledger or shadows"
// when they differ).
//
// The same three figures are given per card product (FloatSplit): card
// management's flows and cards by product, the shadows card by card. No
// ledger account carries a product, so the ledger's figure is split by
// its entries' drill-down: card management's name their card, and
// acquisition's their batch, whose records' movements (acquisition's
// rules: a booked record of a card we verified or a grey one debits the
// float, a grey released or reversed credits it) put the entry on the
// products of their cards; what they do not account for is the
// unexplained product's ("?"), so that the products' ledger figures sum
// to the account's. A card card management does not hold (another
// issuer's) is of no product ("-").
//
// # Not yet
//
// Later sessions of the clearing issue add: interconnection (other
// cities' cards, cleared from the national centre's answer file, and
// ours used elsewhere, from its incoming files); the ledger entries of a
// cycle; grey decisions and concessions in statements; the concessions
// of confirmed grey records; a refund's reclaim (error_receivable:PAYER)
// netted against its payer. Reconciliation with the bank's statements
// (the payments made, and the pay-ins expected of the parties in net
// debit) is package recon's. The API is api's
// /v1/clearing (cycles, their moves, files and statements).
package clearing
