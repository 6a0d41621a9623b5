// Package whatif is the fare what-if (票价模拟): it replays the
// journeys the journal holds under another fare table and reports the
// revenue as charged against the revenue the new table would have
// charged, per network, line, rider category and hour of day, with the
// cards affected and how the change falls on them. It reads the journal
// (the reading side of acquire.Journal) and writes nothing; it is pure
// otherwise: no SQL, no HTTP, no clock.
//
// # What is replayed
//
// The booked purchase records (acquire.ClassBooked, and ClassRecovered:
// a grey record's recovered copy) of the days asked: operating days (运营日)
// of the table in service (the old table when there is one, else the new;
// fare.Table.OperatingDay: at midnight, China time, unless its
// feed_info.txt ends the day later, at 04:00 say), by each record's own
// date and time; hours of day are the records' clock hours. Grey records in
// suspense are counted apart (their debit is not revenue until a later
// record confirms it), and so are the records of networks the new table
// does not know (a shop's POS). "Old" revenue is what the records
// charged, their amounts; "new" is what terminals pricing with the new
// table (terminal.FareEngine) would have charged for the same taps. With
// an old table too (Config.Old), the replay prices it the same way: its
// revenue against what the records charged shows what the replay could
// not know, and a record it prices otherwise is counted unreproduced
// (none, for records that terminals of that very table made: the
// end-to-end test checks it on a city's day).
//
// # What a record tells, and what the replay assumes
//
// A terminal prices a tap from the tap and the card's transit file: the
// leg open since its tap-on, the leg before it (for transfers and joined
// legs), the day's and month's spend and rides (for caps and spend
// tiers), the products held. The back office sees the record only, so
// the replay rebuilds the transit file as the terminals would have
// written it, card by card, from the card's records in the order of its
// offline counter, under each table (the rebuilt file follows the
// terminal package's own; a test fails on any difference):
//   - a composite purchase with an entry is a tap-off: the leg from its
//     entry to its station, after the card's previous leg;
//   - a composite purchase without one is a tap-on when the card's next
//     composite purchase carries its entry; otherwise a boarding, on a
//     network whose legs the table prices without a tap-off (a flat
//     bus); on a gate's network (distance or time fares), a tap-on whose
//     tap-off never came if the card had a leg open or it charged
//     nothing, else a tap-off without a tap-on (the maximum fare). With
//     no next record (the end of the journal read) the same rules apply
//     without the first (Assumed.TapKindGuessed). Which networks need a
//     tap-off the old table tells when there is one, else the new: give
//     the old table when the new one prices a network otherwise (buses
//     by distance);
//   - a plain purchase (type 06) of a network the table knows is a
//     boarding on its own, as a POS terminal prices it: no transit file
//     read or written;
//   - a product the record was paid with (a pass, a count ticket) is held
//     on the record's day with a ride left; other products the card held
//     are not in any record, and are not known (a pass that a new table
//     makes valid on the metro is not seen on a metro leg paid with
//     stored value);
//   - the spend and rides caps and spend tiers see are what the replay
//     charged and counted on the card before, from the first record it
//     replays: a month cap or tier counts the month from the replay's
//     first day (start a replay on the 1st for month caps and tiers);
//   - a tap-off whose tap-on was not replayed takes its leg from the
//     entry it carries, nothing paid at the tap-on
//     (Assumed.EntryFromRecord).
//
// # Order
//
// The journal is in the order records arrived, not the order they were
// made: a bus that uploads at night puts a card's morning boarding after
// the metro legs that followed it. Each card's records are priced in the
// order of its offline counter (16 bits, in serial order): a record
// waits for the card's earlier one for at most Config.ReorderWindow
// journaled records (each card at most 64 records), then is priced with
// the gap bridged (Assumed.AfterGapRecords); a record older than what its
// card's chain has reached is priced on its own, with no journey before
// it (Assumed.LateRecords). At the end of the read every waiting record
// is priced. So memory is bounded by the cards met (Config.MaxCards:
// their rebuilt transit files and sums, a few hundred bytes each) and the
// reorder window, never by the days.
//
// # The journal read
//
// Records arrive after they are made, so the replay reads the records of
// the batches committed from the day before the first day (whose
// journeys the first day continues, read for the cards' transit files
// and not reported) to Config.LagDays (DefaultLagDays) after the day
// after the last (for late uploads; records dated that day are read too,
// to tell the last day's tap-ons), found by a binary search over the
// commit times of the journal's batches; Config.WholeJournal reads it
// all, for a journal whose records are not dated when they were
// committed (a simulated day). A replay covers at most MaxDays days.
//
// # Speed
//
// The cost is the pricing: terminal.FareEngine.Price (a few
// microseconds, more for a leg after another) for each record under each
// table; about half of it builds the explanations a replay discards.
// Cards are independent, so Config.Workers splits them by shard
// (acquire.Shard) among goroutines, each with its cards' states and its
// own sums, merged at the end; the report does not depend on the number
// of workers. Measured on 2 shared cores: a Beijing-sized day, the
// simulator's 20M records of 5M cards (plain purchases: boardings),
// replayed by citycard fare replay over SQLite in 395 CPU-seconds
// (51,000 records per CPU-second; 7 minutes; 4.8 GB resident);
// BenchmarkReplay's commuters (bus, metro, transfers both ways) 68,000
// records per CPU-second on one core, 33,000 with the old table
// re-priced too; measured again after the fare engine's Chinese rules
// (tiers, time periods, metro rules) and terminal.TransitAfter landed,
// 127,000 to 140,000 and 64,000 to 66,000 (two runs each, with other
// work on the machine; the 20M-record figure above predates them). A
// FareEngine that reused its fare.Quote (a fresh one is 3.5 KB) and
// skipped explanations would be faster still.
package whatif
