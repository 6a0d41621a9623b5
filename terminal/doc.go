// Package terminal is layer 4 of the platform: the PSAM, the validator or
// POS that talks to cards, its durable offline queue, and the uploader
// that sends the queue to the back office.
//
// # PSAM
//
// The virtual PSAM speaks APDUs like the chip in a terminal's SAM slot:
// READ BINARY 0016 (the terminal number), 8070 INIT SAM FOR PURCHASE
// (random, card counter, amount, type, date, time, key version, algorithm,
// ASN, issuer code -> terminal sequence, MAC1), 8072 CREDIT SAM FOR
// PURCHASE (MAC2 check), and 80FA GENERATE MAC with P1 05 (the record MAC
// over a record's bytes, under the PSAM's record key: the back office's
// record master key diversified by the PSAM ID) or P1 06 (the maintenance
// MAC of APPLICATION BLOCK, under the card's DAMK). Every 8070 consumes a
// terminal sequence, as a real PSAM's does. A PSAM comes from its vendor
// blank, holding only its transport key (PSAMVendor), and the operator's
// key injection station personalizes it once (ProvisionPSAM): the master
// keys reach it wrapped by the key store under that transport key, which
// the host never sees, and never in clear (see provision.go); purchase
// keys of our issuers are used one level deep (by ASN), the
// interconnection key two levels (by issuer code, then ASN).
//
// # Taps
//
// A Terminal selects the e-purse (the JT/T 978 AID, then the CJ/T 166
// one), reads the public data, refuses a card outside its validity dates
// or blocked, blocks a blacklisted one (GET CHALLENGE, the PSAM's MAC,
// APPLICATION BLOCK), prices the tap through the Fare interface (the fare
// engine implements it; FlatFare and SectionFare are the simple fares;
// a fare that needs the card's balance, the fare engine at a tap-on
// where the network has a minimum balance, gets it by GET BALANCE and
// may refuse the tap with ErrBelowMinBalance),
// and runs the simple purchase (POS) or the composite purchase, which
// writes the card's transit records (trip, spend, product) with UPDATE
// CAPP DATA CACHE before the debit. Key versions are tried newest first
// until the card knows one (9403), at a purchase and at a load, so
// rotation needs no flag day.
//
// A card whose basic data names a concession category (Config.Concessions:
// a senior's, a student's) is priced at it only while its entitlement
// file (SFI 1Ah) holds the concession slot of that category
// (card.AppConcession) valid today under a grant MAC the PSAM verifies
// (STAMP SAM 01 and 02, as a gate checks a file: the PSAM then holds the
// application master key; without it the tap is an error, KeyMissing,
// never a silent lapse); else (no file, no slot, a slot past its last
// day, a file that does not parse or is forged) at the category it
// lapses to, the adult fare, the explanation saying why, and the record
// carries the category it was priced at, so that clearing claims no
// concession for it. Only those cards cost the read and the two PSAM
// commands. The back office writes the slot at each online contact
// (package cms: the annual review, 年审).
//
// # Application gates
//
// A Gate (gate.go) is an application system's offline terminal: a school
// gate, a library kiosk, a venue turnstile, a tourist site gate, a
// parking barrier. It reads the card's entitlement file (package card,
// SFI 1Ah), has its PSAM check the grant MAC under the card's application
// key (STAMP SAM, 807A, psamstamp.go: the PSAM holds the application
// master key, provisioned like a purchase key, and derives the card's key
// inside), decides by the rules of package apps, writes the stamp with
// STAMP under the PSAM's write MAC, checks the card's stamp MAC and
// spools the non-financial record the PSAM seals. A refusal is a result
// with its reason (apps.Reason), not an error. The versions a gate
// requires of its cards' files are part of its parameters: MinVersions
// is its copy of its application's gate versions (apps.GateVersions),
// synced by page after the last change it holds, so a card whose grant
// was revoked or blocked is refused stale with the versions in the
// result's detail. Paid admissions (a site's ticket, a venue's entry
// without a pass) are e-purse purchases at a POS: Ticket prices them,
// with concessions by rider category.
//
// A Canteen (canteen.go) is a school canteen's POS: a campus gate of
// action canteen and a POS together. It holds a pupil to the daily
// canteen limit in the campus slot offline (refused canteen_limit),
// counts the meal on the card with a stamp before the debit, so that no
// failure lets the day's spend pass the limit, and pays as any POS.
//
// A BikeDock (bikedock.go) is a public bike dock: a bike gate and a POS
// together. A hire stamps the card's bike slot (a bike out, the hire's
// time) and charges nothing; a return stamps it in and pays the time
// fare the FareEngine prices as the tap-off of a leg entered at the
// hire, without the card's transit file; a bike out past the dock's
// OutMax pays the network's maximum fare, at its return or at the
// card's next hire, which closes it first.
//
// # Nothing lost, nothing doubled
//
// Before every DEBIT the terminal spools the record as grey (sealed, no
// TAC), and replaces it with the complete record once the card answers:
// a crash or a tear at any instant leaves the grey record for the back
// office. A card that tore is recognized at its next tap here: the
// terminal re-reads its balance and last log record, and if the debit
// happened, GET TRANSACTION PROOF gives its TAC; within the retry window
// that completes the interrupted tap (nothing more is charged), later the
// new tap is charged as well. A load whose CREDIT answer was lost is
// recovered the same way before the card's next load.
//
// Cards and PSAMs are untrusted input: every answer is measured before it
// is read (each command returns a fixed length of data, or none). A
// malformed answer before DEBIT is sent ends the tap with an error of kind
// Invalid and no record. Once DEBIT (or a load's CREDIT) is sent, only a
// status word refusing it means nothing happened on the card; a lost or
// malformed answer, or a complete record that cannot be sealed or spooled,
// is handled as a tear: the grey record stays, awaiting GET TRANSACTION
// PROOF at the card's next tap. A load's record is spooled before the host
// hears its TAC, so that a host out of reach loses nothing. The Queue is an
// fsynced append-only log with CRC-framed writes, torn tails cut at
// open; the Uploader drops a record only when the back office has
// answered for it, under batch IDs that make a retry the same batch.
//
// A load on the cardholder's own phone (PhoneLoad) runs the same card
// commands as a terminal's (one creditLoad for both) without what a
// terminal keeps: no PSAM, no spool, no torn loads remembered. The host
// is the record of a phone's loads, and a CREDIT whose answer is lost
// (ErrCreditUnknown) is settled there at the card's next session, whose
// online counter tells whether the card credited.
//
// # Batch IDs
//
// The back office answers a repeated batch ID with its first answer, and
// refuses (409, kind Conflict) an ID it holds for other records. So an
// ID must name one set of records for the terminal's whole life. A batch
// is the records its queue had not acked between a first and a last seq,
// and acks only ever remove records, so within one queue file (first seq,
// last seq, count) names one set: a retry, after a crash too, is the same
// batch. But seqs start again at 1 in a new queue file (the old one
// deleted, the terminal re-imaged), and a new file's batches would reuse
// the old one's IDs: the back office would refuse them, for ever. Hence
// the queue epoch: 64 random bits drawn when a queue file is created,
// kept in its header, and the batch ID
//
//	<epoch, 16 hex digits>-<first seq>-<last seq>-<count>
//
// at most 64 printable bytes (acquire.MaxBatchIDLen). Random rather than a
// clock or a counter because a re-imaged terminal keeps neither: its clock
// may be reset and its disk is new; two files of one terminal share an
// epoch with a chance of about n*n/2^65 for n files. A file written
// before epochs is given one when opened and keeps it from its next
// compaction on; the batches a reopen renames before that reach the back
// office again under new IDs, and their records are answered as
// duplicates, never booked twice. The IDs before epochs began with "q"
// and new ones never do. A conflict stops the uploader at once with
// ErrBatchConflict, the batch left queued: sending it again would get the
// same answer.
package terminal
