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
//   - One sequencer goroutine takes verified batches in arrival order,
//     classifies their records against the in-memory state, and commits
//     one or more batches (group commit) to the Journal in one transaction:
//     the journaled records (append-only, no index but the position), the
//     batch answers, the rejections and the aggregated ledger postings.
//     Classifying changes the in-memory state as it goes; if the commit
//     fails, the state is rebuilt from the journal and the group's batches
//     are committed one by one, so that a batch that cannot commit fails
//     alone.
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
// # Rules
//
// A record is rejected (kept in the rejection journal with its reason) if
// it does not decode, was not sealed by the uploading terminal's
// registered PSAM, comes from an unknown or inactive terminal, or fails its
// record MAC or TAC. A record of another city's card (no TAC key of its
// issuer here) is accepted pending issuer verification. Accepted records
// are flagged for review, and still booked, for a counter gap, a terminal
// sequence gap, a balance that does not follow from the card's previous
// record, a blacklisted card, or a clock far from the upload time.
//
// A grey record (the card tore, no TAC) is kept in suspense: its amount
// moves from the card float to suspense. The recovered record (same
// terminal and sequence, with the TAC) books it; a later genuine record of
// the card with the same counter shows the debit never happened and
// releases it; a later record with a higher counter confirms it (the
// card's counter moves only when a debit commits). Uploads come in any
// order: a grey record arriving after a record of a higher counter is
// confirmed at once, and one arriving after a booked record of its own
// counter is a duplicate (its debit was recovered, or never happened).
//
// Loads reach the ledger through the card-management host, not here: a
// load record in an upload is verified and deduplicated by its online
// counter and kept in the shadow, so that balances stay continuous, but
// not posted.
package acquire
