// Package acquire is the upload pipeline of the back office: terminals
// upload batches of offline records; acquire verifies each record, decides
// whether it is new, a duplicate, a late record filling a gap, a grey
// record for suspense or a forgery, keeps a shadow of every card and of
// every terminal's sequence, and hands the outcome of each batch to its
// Journal in one atomic commit together with the batch's ledger postings.
// Every genuine record is booked exactly once, whatever the order,
// repetition or delay of uploads; nothing forged is booked; nothing
// received is lost (rejected records go to the rejection journal).
//
// # Design: append-only journal, state in memory, one sequencer
//
// The obvious design, a unique index per record and a per-card upsert,
// gives 26-40k records/s in SQLite and falls as the tables grow. acquire
// takes another shape, measured to reach the 100k records/s target:
//
//   - Verification (record MAC and TAC, the only costly work: a few
//     microseconds a record) runs in parallel, on the uploading request's
//     goroutine and a worker pool, before anything is decided.
//   - Decisions need no per-record index. Per card the shadow holds the
//     last offline counter and the gaps still open; a record is new if its
//     counter is past the last, a late record if it falls in a gap, and a
//     duplicate otherwise. Per terminal the same holds for the terminal
//     sequence. So duplicate detection costs memory per card and per open
//     gap, not per record, and no index lookup.
//   - The decision is exact: a track never forgets a gap. Forgetting one
//     would answer a genuine record "duplicate" (lost), and guessing the
//     other way would book a true duplicate twice. The memory a track may
//     take is bounded by what it counts: a card's counters are 16 bits, so
//     a card has at most 2^15 open spans (8 bytes each; a typical card has
//     none), which no card can pass; a terminal's sequence is 32 bits, so a
//     batch that could take its terminal past maxSpans (65,536 open gaps,
//     a PSAM that needs a person) is refused whole before it is decided,
//     kind Conflict, and stays on the terminal. Nothing is spilled to the
//     store and nothing is looked up in the journal: the bound makes both
//     unnecessary.
//   - One sequencer goroutine takes verified batches in arrival order,
//     classifies their records against the in-memory state, and commits
//     one or more batches (group commit) to the Journal in one transaction:
//     the journaled records (append-only, no index but the position), the
//     batch answers, the rejections and the aggregated ledger postings.
//     The sequencer makes no database round trip but that commit (and a
//     checkpoint in turn): the batch's look-up in the journal (was it
//     committed?) and its terminal's in the registry run on the uploading
//     request's goroutine, before verification, and the store's uniqueness
//     of batch IDs catches the rare race of two uploads of one batch.
//   - Classifying changes the in-memory state as it goes, and saves what it
//     changes first (an undo per batch: the first time a batch touches a
//     card or its terminal, a copy). If the commit fails, the group's
//     batches are taken back out of memory, exactly, and committed one by
//     one, so that a batch that cannot commit fails alone without a
//     rebuild of the state. A commit reported failed may have gone through
//     (the connection dropped after COMMIT): the journal's end tells; if
//     it moved, the state is rebuilt from the journal and the batch is
//     answered from it; if the journal cannot be read, the acquirer
//     refuses batches (Health says why) until it can.
//   - The state is a deterministic function of the journal: at start it is
//     loaded from its checkpoints and the journal replayed after them. It
//     is checkpointed in parts (each card shard, and the terminals), one
//     part in turn every few million records, so that no checkpoint stops
//     the sequencer for more than one shard's encoding; at start each
//     replayed entry goes only to the parts whose checkpoint precedes it.
//     A crash at any instant (kill -9 in the middle of a batch) loses at
//     most uncommitted batches, which terminals upload again: their batch
//     ID makes the repeat of a committed batch a no-op answering the
//     stored answer.
//   - Card state is partitioned by shard (Shard: FNV-1a of issuer and
//     ASN, mod the shard count, the same in every process) from the first
//     day, as DESIGN.md asks, so that a city that outgrows one machine
//     routes each card's uploads to one sequencer per shard group.
//
// # Every answer is a promise
//
// The terminal deletes each record the back office answered for
// (accepted, flagged, duplicate or rejected). So a record is answered only
// when it was decided: a fault of the registry or the journal (busy, a
// timeout, a lost connection) refuses the batch whole with a transient
// kind (IO, Unavailable: the API's 503 with Retry-After) and the terminal
// keeps it; an unknown terminal is the registry's answer (kind NotFound),
// a decision, and its records are rejected and kept. Memory is bounded on
// the way in: Config.InFlightRecords bounds the records being verified or
// waiting for the sequencer, and a batch past it is refused at once
// (Unavailable) rather than held.
//
// A rejected record stays in the rejection journal. When staff fix its
// cause (a terminal registered late, a PSAM swapped in the registry, a key
// loaded late) Resubmit runs the rules again on it, as a batch of its own
// named after the rejection (ResubmitBatchID), so that each rejection is
// resubmitted exactly once, however often staff ask; the batch's stored
// answer keeps which rejection and who asked.
//
// # Rules
//
// A record is rejected (kept in the rejection journal with its reason) if
// it does not decode, was not sealed by the uploading terminal's
// registered PSAM, comes from an unknown or inactive terminal, or fails its
// record MAC (under the record master key of the terminal's operator:
// TerminalInfo.OperatorCode) or its TAC. A record of another city's card (no TAC key of its
// issuer here) is accepted pending issuer verification. Accepted records
// are flagged for review, and still booked, for a counter gap, a terminal
// sequence gap, a balance that does not follow from the card's previous
// record, a blacklisted card, or a clock far from the upload time (or a
// tap-off before its entry, which re-pricing finds: FareClockWrong).
//
// A grey record (the card tore, no TAC) is kept in suspense: its amount
// moves from the card float to suspense (another city's card's, from
// the interconnection receivable of its issuer, and its grey record is
// flagged pending_issuer_verification, as is every entry of such a card;
// recovered, it is pending its issuer as a booked record is:
// PendingIssuer; confirmed on its balance, so is the confirmation:
// PendingIssuerDecided), and only a fact moves it on. The
// card's counter moving past it proves nothing alone: the card may have
// torn before it committed, and its next tap, elsewhere, used the same
// counter. So:
//   - the recovered record (same terminal and sequence, with the TAC)
//     books it;
//   - a genuine record of another tap with the same counter shows the
//     debit never happened and releases it back to the card float (or
//     receivable); if the grey had been confirmed on the balance (that
//     tap charged the same amount), the confirmation is reversed, the
//     grey's operator repaying the float, and the record is booked;
//   - the record just above it (counter + 1) confirms it when its balance
//     before is the balance the grey debit left (DESIGN.md: "the counter
//     after it and the lower balance"): in order, with the loads seen
//     since; late, from the balance the gap below that record kept (span.
//     after: a gap opened above a record, or below the first record seen,
//     keeps the balance before that record), or the first record's
//     (floorBefore);
//   - a load whose balance before is that balance confirms it too,
//     whichever arrives first;
//   - a grey record of nothing (a tap-on whose TAC was never read) holds
//     no money and no balance can decide it: it is confirmed on arrival
//     (and reversed, of nothing, by another tap's record with its
//     counter).
//
// Each such decision moves the money in the deciding batch's ledger
// postings and is kept in the journal too, one GreyDecision at the
// deciding entry's position, in the same commit: clearing reads them
// there, so that a grey confirmed on day 2 pays its operator in day 2's
// cycle, once, without replaying the state. A decision names the grey
// record's own position too (GreyPos: the shadow keeps it with the grey,
// and the checkpoint with the shadow), so that the grey record itself
// can be read back: another city's card's confirmation goes to its
// issuer in our OUT file (package interop).
//
// Loads are uploaded by other terminals, early or late (a load is online,
// so it often arrives before the offline purchases around it), and the
// shadow keeps the loads seen since its newest record as a sum, and the
// newest load itself (lastLoad, one word): a record whose balance is what
// the previous record left, with loads seen since, follows (those loads
// came later, and count towards the next record); a record whose balance
// after is the newest load's balance before came just before that load,
// which then counts towards the next record; a gap (or the floor) opened
// by a record whose balance before is the newest load's balance after
// keeps the balance from before the load, as a load arriving after the
// gap opened steps it back; a record arriving below the floor whose
// balance before is the newest load's balance after came just after that
// load. So a grey is decided the same whatever the
// order of arrival, with one load between it and its neighbour.
// Otherwise it waits in suspense, reviewable, never guessed either way:
// for instance a late grey with two loads, uploaded before their
// neighbours, between it and the record above it (only the newest load is
// kept); staff review of suspense is the cms issue's.
//
// Loads reach the ledger through the card-management host, not here: a
// load record in an upload is verified and deduplicated by its online
// counter and kept in the shadow, so that balances stay continuous, but
// not posted.
//
// # Non-financial records
//
// The acceptance rules of DESIGN.md's "Records and verification" for an
// application record (type A0, citycard.TxApplication: a campus check-in
// or check-out, a venue or site admission, a library loan or return,
// a parking check-in or check-out; see package apps). It moves no e-purse counter
// and no money, so it is told apart by other counters. The back office
// accepts it only if:
//   - its record MAC verifies (the PSAM sealed it: the whole record), and
//     its stamp MAC, in the TAC field, verifies under the card's
//     application key (the application master key of key_version
//     diversified by the ASN, never stored per card): the card wrote this
//     stamp, with this application counter, at this terminal and
//     sequence, at this time, leaving these uses. A missing application
//     key is a rejection (key_unknown), never pending another issuer:
//     only our own applications write entitlement files;
//   - the terminal and its PSAM are registered and active, as for every
//     record;
//   - (issuer, ASN, application counter) was not accepted before: a
//     second copy is a duplicate, journaled and not kept twice. The card
//     moves its application counter at every stamp it writes and MACs it
//     with the stamp, so two genuine stamps never share one: no
//     check-in is ever answered as a duplicate of another check-in, nor
//     of a purchase (the e-purse counters are not looked at);
//   - (terminal ID, terminal sequence) is checked as for purchases, on
//     the same track (a gate that also sells tickets has one PSAM
//     sequence): a skip is flagged terminal_sequence_gap, a reuse by a
//     record the card counter says is new terminal_sequence_reused.
//
// It is accepted and flagged for review for a skip of the application
// counter (application_counter_gap: stamps are missing), a blacklisted
// card (the gate refuses those, so it is a gate without the list) and a
// clock far from the upload time. An accepted application record is
// journaled with class application and posts nothing: no ledger
// movement, no card float, no operator payable. It is in the journal, so
// replay and checkpoints (which keep each card's application counter
// apart from its shadow) rebuild it exactly. Paid admissions (tickets, venue
// fees, meals, parking, bikes) are purchases, booked as any other.
package acquire
