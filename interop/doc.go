// Package interop is the interconnection (互联互通): the files citycard
// exchanges with the national interconnection centre, their layout
// (CCIC1, defined in docs/interop.md, since the centre's own are not
// public), their export from a clearing cycle and their import, and what
// each does to the records, the ledger and the next cycle.
//
// # The money
//
// A record of another city's card accepted on our terminals is booked by
// acquisition pending its issuer's verification (we hold no TAC key of
// that issuer): from interconnect_receivable:ISSUER to the operator's
// payable (a torn purchase of such a card by suspense, once recovered:
// acquire.PendingIssuer; a grey record of it confirmed on its balance
// instead is pending too, acquire.PendingIssuerDecided, booked the same
// way at its confirmation), and counted by its cycle as pending, paid
// to no one. The closed cycle's OUT file sends those records for their
// issuers to verify (Export), and, each after the record that confirmed
// it, the grey records the cycle confirmed: the grey record itself, read
// back from the journal at the position its decision names
// (acquire.GreyDecision.GreyPos), as a G line. A grey record has no TAC
// (the terminal never read it), so its issuer verifies it from its
// card's history instead: the card's next record, whose TAC verifies,
// begins at the balance the grey debit left, and no other tap took its
// counter (ReasonUnconfirmed otherwise; docs/interop.md). A grey whose
// confirmation the same cycle reversed, one released (never confirmed)
// and one of nothing are never sent; a grey is sent once (the store
// refuses a second record of it: Rec.GreyPos). An issuer's answer (an
// ANS file, through the centre) accepts or rejects each record, R or G,
// once; the confirmation was booked at acquisition, so the answer books
// nothing more for an accepted grey, and an accepted record settles in the next cycle
// to close (the issuer pays our operator the fare, the operator its fee,
// as for any record: clearing's Interconnect hook); a rejected one is
// reversed in the ledger at the answer's import (the operator's payable
// back against the receivable: EntryRejected) and paid to no one. The
// cycle of the record is closed and never changes: the settlement and the
// reversal are the next cycle's.
//
// Our cards' records accepted in other cities arrive in INC files. Each
// record's TAC is verified under our keys (record.Verifier.VerifyTAC: the
// record MAC is the other city's PSAM's, under keys only it holds); a
// forged TAC, a key version we do not hold, another issuer's card or a
// card and counter accepted before (the store's unique index keeps it
// so) is rejected with its reason, and so is a genuine record that came
// after the interconnection's time limit (late: its tap more than
// Interop.LateDays, DefaultLateDays 30, before the INC file's day; the
// TAC is checked first, so a forged record is answered forged whatever
// date it claims). The accepted are booked from our card
// float to interconnect_receivable:CITY (EntryIncoming: that account is
// the net of what the city owes us and what we owe it), and the next
// cycle to close pays the city for them, from our issuer. Our answer to
// the INC file (AnswerID) is made from the file alone (its creation time
// is the INC file's), stored with it, and shown by citycard interop show.
// Each INC record's tap time is stored beside it (Tap, taken.go), so
// that a card's records accepted elsewhere are read back by card, with
// their times (CardStore, CardTaken): they are the card's purchases in
// other cities, which a lost or damaged card's refund and balance move
// are reckoned less and cut at its report (package api's
// ShadowBalances).
//
// Error records (差错, ERR files) correct accepted records of either
// direction: the card's issuer owes the acquirer more, or is paid back;
// booked at import (EntryCorrection) and settled in the next cycle.
// Dispute records (争议, DSP files) are raised once against an accepted
// record, then accepted or declined once; they move no money (an error
// record settles an accepted dispute).
//
// # Our cases
//
// Our own staff raise error and dispute cases (Case, Raise) about an
// accepted record of our OUT file (we are the acquirer) or of an INC
// file (we are the card's issuer; a dispute is only the issuer's). A
// case is known by the reference staff give it, with the hash of its
// input (the same reference with another input is a Conflict), one case
// of a type per record. The cases raised on a day go out in our ERR or
// DSP file of the day (ExportCases), once the day is over so that they
// are fixed: its bytes are a function of them, created at the day's end.
// Its records are stored as corrections of the records they name, so
// that a counterpart's DSP file accepting or declining our dispute
// follows its stage. The counterparty's answer (an ANS file referring to
// our file) accepts or rejects each case once (Import.Cases); an
// accepted one is booked at the answer's import as a received error
// record is (EntryCorrection; an accepted dispute: the acquirer pays the
// amount back) and kept as a correction of the answer file, which the
// next cycle to close takes whole and settles (never a closed one).
//
// # Files are imported whole, once
//
// Decode is strict: every field of every line as the layout says, the
// header's and trailer's count and sum those of the records, the
// trailer's SHA-256 that of the lines before it, nothing after it. A
// file refused yields nothing, with a *FieldError naming the file, the
// line and the field. Import then checks the file against the store (an
// answer to a record of our OUT file, echoing its card, counter and
// amount, never answered before; a correction of an accepted record) and
// stores everything it does (the file, its records or answers, our
// answer, the ledger entries) in one transaction of the store: all or
// nothing. A file is known by its ID and SHA-256: the same file imported
// again changes nothing (Imported.Already), another file under a stored
// ID is a Conflict. Export stores the OUT file too, so that answers have
// its records to match: its bytes are a function of the closed cycle
// (day, close time, journal range), so exporting it again is the same
// file, a no-op.
//
// # Settling
//
// Interop implements clearing.Interconnect: the received ANS, INC and
// ERR files no closed cycle took, each taken whole by the next cycle
// run, as adjustments are (clearing/interop.go). The cycle's result
// names the files it took, and the clearing store's Save of the cycle
// closing with them marks them taken in the same transaction (migration
// 0014's interop_files.taken_day), so that no other cycle takes one
// again; a file imported after a cycle's last run is the next one's.
//
// # Cities and blacklists
//
// The centre's CTY files list the interconnected cities with the day
// each joins or leaves the terminals' lists; the national rules give a
// joining city 30 days from its announcement and a leaving one 7, which
// Decode enforces (AddDaysMax, RemoveDaysMax) and Cities.InForce reads
// as effective days. BLK files carry other issuers' blacklists with
// their effective days (Blacklisted). FeedBlacklist brings the
// terminals' blacklist (the blacklist package's List, whose deltas they
// download) to the listings in force on a day, other issuers' cards
// only; TerminalCities gives the terminals every city change with its
// effective day (terminal.Cities), which they apply by their own clock.
//
// # Not yet
//
// A limit on how late the answer to our OUT file may come (reason 09 is
// applied to the INC files we answer, not to the answers we are given),
// our card shadows taking the counters of our cards' records
// taken elsewhere (a card used in another city shows a counter gap here
// until then) and the simulator's counterpart fault (sim/city) are
// later work. So are two
// ends of the grey records of other cities' cards:
//   - a confirmation reversed in a later cycle than its own, after its G
//     line was sent (the retry that took the grey's counter uploaded
//     late): acquisition books the reversal (the operator's payable back
//     to the issuer's receivable, pending its issuer: no cycle moves a
//     party for it), but the G record is answered as sent: a rejection
//     reverses the booking a second time, an acceptance pays the operator
//     for a debit that never happened. The answer's import should tell
//     such a record apart (its grey's reversal is in the journal, by
//     Rec.GreyPos) and book and settle nothing for it, and a reversal
//     after an accepted answer should go back to the issuer as an error
//     record of ours whose correction books nothing (the reversal booked
//     it);
//   - our cards' grey records confirmed in other cities: an INC file's G
//     line is refused (Decode takes them in OUT files only), so we
//     neither verify them against our cards' histories nor pay for them.
//
// A cycle whose OUT file was exported before migration 0037 and whose
// range confirmed such a grey exports, again, another file than the one
// stored (a Conflict): the stored file stands, and those greys wait as
// they did, held against the issuer's receivable.
package interop
