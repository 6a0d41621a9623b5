// Package cms is card management: the card products a city sells, their
// cardholders, each card's life from application to closing, and the
// money rules of that life (deposits, fees, refunds, the balance moved to
// a replacement, the liability of a lost card). It is the domain core the
// service points stand on (the counter, a partner bank's branch, a kiosk,
// the cardholder's phone): pure, no SQL and no HTTP.
//
// # Card products
//
// Products are data, not code: a products file (ParseProducts; the sample
// is products.conf, DefaultProducts) says, for each, its card profile
// (package card), the rider category its cards carry, whether its cards
// are registered, its partner bank (a citizen card's co-branding bank),
// the deposit and fees, the balance cap and load limits, validity, the
// cooling period of a replacement, dormancy, who is eligible and the
// annual review (年审) of a concession.
//
// The format is line-oriented, chosen so that every error names the file,
// the line and the field (a *FileError); README.md in this directory is
// its reference. Amounts are yuan written "10" or "10.00", read exactly
// into fen, never through a float; a percent is written the same way and
// read into hundredths of a percent. A field unknown, repeated or
// missing, a value out of its range, and a rule broken between fields are
// errors: a load cap over the balance cap, a daily cap under one load, a
// partner bank on anything but a citizen card, an eligibility or a review
// on a card that is not registered, a review lapsing to its own category.
// Everything is bounded (ProductsFileBytesMax, ProductsMax,
// CategoriesMax, 256 bytes a value, AmountFenMax; a balance cap at most
// what the card's purse holds).
//
// Eligibility (Product.CheckEligible) is checked at application and at
// each review: by age from the date of birth (Date.AgeOn: someone born on
// 29 February comes of age on 1 March in a common year), or as a student
// with a school and a last day of studies (that day included). A
// concession card is due for review EveryMonths after its last one; up to
// GraceDays past that day it keeps its category, from the day after it
// travels in the lapsed category (the adult fare) until it is reviewed
// again (Product.CategoryOn; Manager.Review records a review, the
// eligibility checked again); the review rewrites the category on the card
// at the next terminal or kiosk.
//
// Offline, a fare terminal cannot ask whether a card's review lapsed:
// the card tells it. Its entitlement file (package card, SFI 1Ah) holds
// a concession slot (card.AppConcession) whose scope is the card's rider
// category code and whose validity runs from the last review to the last
// day of grace (Manager.Concession, Product.InCategoryUntil: the same
// day CategoryOn lapses after), under the grant MAC the gates already
// check, so no new key, no new file and no new card command; a terminal
// told the concession categories prices a card of one at its lapsed
// category when the slot is missing, forged or past (package terminal).
// The slot is no application's grant: the back office adds it to the
// file whenever it builds one (apps.Office.WithConcessions, over this
// Manager: api.CMSConcessions), so every online contact that rewrites
// the file (a kiosk, a counter, a load) carries the review as card
// management has it then. Deriving it there, rather than from the audit
// log into a grant row as apps.Follow carries losses, keeps one fact in
// one place (the card's ReviewDue) and needs no gate version: a file not
// yet rewritten holds an older slot, which lapses no later than the
// review it shows, so it errs towards the adult fare, never free rides;
// the rider is put right at the next kiosk. A review refused (no longer
// eligible) leaves the slot to lapse. A replacement card keeps the
// review due of the card it replaces (Manager.Replace; Card.Move's Issue
// sets a first one only on a card without): a lost card is no review.
//
// A registered card unused for
// DormantYears is reported (Product.Dormant), never drained: the report
// (Manager.Dormant) walks the cards by issuer and ASN (Store.CardsPage,
// CardsPageMax a page), asks acquisition's last use (LastUses: the
// newest record of the card) only of those issued that long ago, and
// pages its findings (DormantPageMax a page, DormantScanMax cards read
// at most), each with the balance left on it.
//
// # Cardholders and their personal data
//
// A cardholder (Cardholder) is a name, an identity document (type and
// number), a date of birth, a mobile number and, for a student, a school
// and the last day of studies. A resident ID number is checked as GB
// 11643-1999 defines it: 17 digits, of which 7 to 14 are the date of birth
// (it must be the cardholder's), and a check character, ISO 7064 MOD 11-2
// (an upper-case X for 10; numbers are normalized to upper case before
// anything else).
//
// Personal data never leaves the package in clear by accident: the types
// of the name, the document number and the phone (PersonName, DocNumber,
// Phone) and Cardholder itself print their masked forms for every fmt
// verb, as slog values and as JSON (3302**********1234, 138****5678,
// 张**); Plain is the only way to the value. Error messages name the
// field and the rule, never the value. A test logs cardholders every way
// the code might and scans the output for the numbers it used.
//
// At rest, a store keeps a cardholder as a Protected: the ciphertext of
// the personal fields (AES-256-GCM, a random 12-byte nonce, the holder's
// ID as additional data so that one row's ciphertext does not open as
// another's) and a look-up hash of the document (HMAC-SHA256), by which a
// counter finds a holder from the document shown without the store ever
// holding the number in clear; a plain hash would not do, as the resident
// ID numbers are few enough to try one by one. Both keys are derived from
// the one data key the package is given (NewProtector; the key store
// keeps it), each by HMAC over its own label; a Protector prints and logs
// as its name only.
//
// # The card's life
//
// A card's life is a state machine with explicit moves (Next, Card.Move);
// every pair of state and move not listed is refused with kind Conflict,
// naming the card, its state, the move and the states it is allowed from:
//
//	move            from                              to
//	personalize     applied                           personalized
//	issue           personalized                      issued
//	activate        issued                            active
//	report loss     issued, active                    lost (LostAt kept; registered cards only)
//	cancel loss     lost                              the state the report interrupted
//	replace         lost, damaged                     replaced (a new card takes over)
//	move balance    replaced                          closed (not before the cooling period ends)
//	report damaged  active, expired                   damaged (LostAt kept)
//	expire          issued, active                    expired (not before the day after the expiry)
//	renew           active, expired                   active (validity extended)
//	refund          active, lost, damaged, expired    closed
//	void            applied, personalized             closed
//
// Personalization writes what the card's product says onto its chip
// (Manager.Personalization, PersonalizeCard; the chip, a virtual card, is
// card.New of the config): the product's card profile decides the chip's
// e-purse application (citizen and mohurd: CJ/T 166; mot: JT/T 978) and
// the form of the card's ASN (8 bytes right-aligned, or 10), which is
// what its keys are diversified by; the product's card type, rider
// category, balance cap and validity go into its files; and its key sets
// are the issuer's master keys of each version asked, diversified by the
// ASN (card.DeriveKeySet), as our PSAMs and the load host derive them, so
// the keys a card gets are those its profile's ASN gives it under the
// issuer's key store. A chip of another profile, or an ASN of the other
// form, is refused (Product.CheckChip: kind Invalid naming the product,
// its profile and the chip's) before anything is recorded, as is a key
// version the store lacks; the move is recorded only once the chip's
// data and keys are made. The Personalize move alone (Manager.Move, the
// issue route's) records the state without a chip: the counters' cards
// come personalized from the bureau.
//
// Expiry is the clock's: Manager.ExpireDue, which serve runs hourly
// and citycard card expire-due at once, expires the cards issued or
// active whose last day of validity is before today (China time), found
// by an index of the cards in use by expiry (Store.CardsExpired,
// migration 0035), never a walk of every card; at most ExpireDueMax a
// run, oldest expiry first, each with its audit record as a clerk's
// expire. A run again expires nothing twice (an expired card is no
// longer in use), and a card another move came first to is left to the
// next run. A lost or damaged card is not expired: its cut stands.
// Renewal is a clerk's (the renew move: ValidityYears on from the later
// of today and the old expiry); it moves no money.
//
// Card.Move is pure: it takes the card by value and returns the card
// after the move, with its Version one higher, so that a store writes a
// move only over the version it read and two moves racing on one card
// cannot both pass. The loss report's time (LostAt) is the cut of
// liability: the cardholder bears the use before it, the issuer what the
// card did after it, offline, before the terminals had the blacklist. A
// damaged card's report is its cut the same way, as its shadow is all
// that is left to read.
//
// # Money
//
// Every money operation is a value with a Book method (Sale, Load,
// Refunding, ReplacementFee, BalanceMove, LateLoss, Adjustment) that
// checks its rules and returns a Booking: the ledger entries it needs
// and the flows of the cards it moves. Nothing is written: the caller posts the entries and
// keeps the flows in one transaction. The accounts (package ledger):
//
//	sale            settlement:CHANNEL -> card_deposit:ISSUER (deposit), fee_income (issue fee), card_float:ISSUER (first load)
//	load            settlement:CHANNEL -> card_float:ISSUER
//	load reversed   the ledger reversal of the load's entry (an online load the card never credited)
//	refund          card_float:ISSUER (balance), card_deposit:ISSUER (deposit) -> fee_income (fee, a lost card's deposit), settlement:PAYEE (the rest)
//	replacement fee settlement:CHANNEL -> fee_income (the deposit stays with the card that replaces)
//	balance move    card_float:ISSUER -> card_float:ISSUER (old card to new: the float stands still, the cards' subledger moves)
//	loss            issuer_loss:ISSUER -> card_float:ISSUER (the old card's use after its cut)
//	top-up paid     settlement:PAYER -> topup_pending:ISSUER (a remote top-up: received, not on the card)
//	top-up claimed  topup_pending:ISSUER -> card_float:ISSUER (a load through channel topup_claim)
//	top-up refunded topup_pending:ISSUER -> settlement:PAYER (expired, or refunded at the payer's request)
//	refund reclaimed error_receivable:PAYER -> card_float:ISSUER (a refunded top-up's claim credited after all: its late TAC)
//	adjust credit   adjustment:ISSUER -> card_float:ISSUER (a card whose balance the back office holds; a card in use: -> topup_pending:ISSUER)
//	adjust debit    card_float:ISSUER -> adjustment:ISSUER (a card whose balance the back office holds)
//
// Limits (CheckLoad): a load is more than 0 and at most the product's
// per-load limit (else Invalid); the balance after it at most the cap and
// the day's loads (China time) at most the daily limit (else Conflict).
// Each limit may be reached, never passed.
//
// The refund (QuoteRefund) pays back the balance (as of the cut for a lost
// or damaged card) and the deposit, the fees paid before kept; the
// deposit of a card not handed back (a lost one) is kept too. Its fee is
// Octopus's published rule: the larger of a fixed amount and a percentage
// of the balance, when the card is returned within so many days of the day
// of issue (the last of them included), or after so many purchases or
// fewer, or holding more than an amount; the percentage rounds half up to
// the fen, the fee never passes what is owed, and fee plus payout is
// exactly balance plus deposit, so no fen is lost to rounding. An
// overdrawn card is refunded what its deposit covers; beyond that, kind
// Insufficient.
//
// Liability is cut at the loss (or damage) report (SplitAtCut): the
// card's purchases at or before the report's instant are the cardholder's; the
// purchases after it, offline ones made before the terminals had the
// blacklist, are borne by the issuer (issuer_loss), and the cardholder is
// owed the balance as of the report. After the cooling period (the
// product's CoolingDays from the report: its last offline records have
// arrived) that balance moves to the replacement (BalanceMove) or is
// refunded; purchases after the cut that arrive later still are borne by the
// issuer as they come (LateLoss).
//
// A lost or damaged card is not there to be read, so its balance is
// reckoned from the book (BookPurse: BookBalance less its purchases
// booked, acquisition's journal being the list of them, and those of
// its records accepted in other cities, from interop's INC files, each
// at its tap's time: package api's ShadowBalances), which a late load
// record cannot swell. Once its
// balance has moved or been refunded (the card closed), any purchase
// booked beyond what its book covers came late (LateLossDue): its use
// after the cut and, should one come after the cooling period, a
// purchase before it that the balance moved had counted as the
// cardholder's; the issuer bears both (SettleLateLoss, keyed by the
// number and sum of the purchases it covers, so that a sweep run again
// books nothing twice), as the balance moved cannot be taken back.
//
// Conservation: per card, loads - loads reversed - purchases - refunds -
// moved out + moved in + loss borne + adjust credit - adjust debit is
// what card management owes on the card
// (BookBalances): the balance the card reports while it is in use, 0
// once it is closed. A property test drives random lifecycles through
// every operation and checks it for every card after every step, and
// that their sum is the issuer's float in the ledger.
//
// Idempotency: every operation carries a key; its Booking holds the
// SHA-256 of its input (the request, not the clock: a retry later is the
// same request), and its entries' keys derive from it
// ("cms:KEY/PART"). The input is the client's own (the card, the channel
// and its reference, the amount asked), never a figure the server
// reckons: a refund's balance and purchases and a balance move's split
// come from a book that late records (and the operation itself) move, so
// hashing them would make a retry look like another request. A key
// booked again with the same input is a replay (the first booking stands,
// nothing is booked twice) and answers what the first try answered (a
// refund's quote is kept with its key: Booking.Answer,
// Manager.RefundReplay); with another input it is a Conflict naming the
// key (Keys, and the same check in the ledger for each entry).
//
// # Online loads
//
// LoadHost is the issuer's online load host (圈存), DESIGN.md's flow 1.
// The card answers INITIALIZE FOR LOAD with its balance, online counter,
// key version, algorithm, a random and MAC1; the terminal forwards the
// answer with its ID, date and time (a LoadSession). Authorize derives the
// card's load and TAC keys of that key version from the key store by the
// card's ASN (CardKeys), checks MAC1 (kind Crypto; KeyMissing for a
// version the store does not hold), books the load and returns MAC2; the
// card credits and returns its TAC, which the terminal forwards to
// Confirm, checked under the TAC key. TerminalHost adapts the host to
// terminal.LoadHost in process; package api serves it to counters and
// kiosks over HTTP.
//
// The booking is a Load (CheckLoad's limits: the cap against the balance
// the card reported under MAC1, the daily limit against the day's online
// loads in China time, the per-load limit; a card lost, closed or
// otherwise neither issued nor active is refused with Conflict), with an
// OnlineLoad row, unconfirmed, committed with it in one transaction. Its
// idempotency key is the session's (LoadKey: card, online counter, the
// card's random, terminal): a retry of the session answers the same MAC2
// and books nothing; the key sent again with another amount, balance,
// date or channel is a Conflict. The loads of one card are serialized (a
// lock per card, by the card's hash), so two loads racing on one card
// are decided one after the other.
//
// A load whose TAC never comes back stays unconfirmed, and is settled by
// what the card does next. The card's online counter moves only when it
// credits, and a new INITIALIZE FOR LOAD draws a new random, so the old
// session's MAC2 can no longer credit. So at the card's next Authorize:
// its counter past the load's confirms it (the card credited); the same
// counter reverses it (LoadReversal: the money back to the channel, a
// load_reversed flow), as it never credited and never will. The
// reversal's entry is a ledger reversal (type reversal) naming the
// load's entry by its Seq (Store.LedgerEntry of LoadEntryKey, read
// before the reversal is booked: the load committed before its MAC2 was
// answered), its postings the load's negated, so that clearing's loads
// and the channel's commission see the load taken back, and the ledger
// refuses to reverse one load twice. A closed card's unconfirmed load is
// never reversed: its balance at closing (a refund or a balance move
// reckoned from the book) counted it, so a session on the card (a lost
// card's finder at a kiosk) is refused and the load stays unconfirmed;
// reversed, it would be paid back twice. A session whose counter is not past
// that of the card's last confirmed load (CardLoads.CreditedCounter) is
// an old one (the card began it before that load's, two readers on one
// card, and it reached the host after): it is refused (Conflict), as the
// card's counter has moved on and its MAC2 can never credit; booked, it
// would be confirmed by the card's next load. A retry of the confirmed
// session itself is answered again. Settle does
// the same from acquisition's card shadows (CardRecords, acquire's
// online counter): a counter seen at or past the load's confirms it. A
// reversed load whose TAC comes after all (two readers on one card, the
// sessions reaching the host in the other order) is booked again: the
// TAC proves the credit, and the load that reversed it, unconfirmed at
// the same counter, is reversed in its turn. A load's row is settled once
// (the stores' triggers refuse any other change; reversed to confirmed by
// a late TAC is the one second move).
//
// Group commit: on SQLite a commit is an fsync of the WAL (3 ms on this
// machine's disk), so one transaction per load caps the host near 300
// loads a second whatever the CPU. GroupCommit batches the operations
// committed at the same time into one transaction (Store.CommitBatch),
// each under its own savepoint: its own key and replay check, its own
// card version, its own audit record, and its own refusal (a Conflict
// rolls back that operation alone). The first caller leads, later ones
// queue and the lead passes to the first of them, at most GroupCommitMax
// operations a transaction. Every Manager operation committed through it
// is grouped, not only loads. A load waits for the disk once: its
// authorization (MAC2 is a promise of money) is committed before the
// answer; its confirmation, with LoadHost.ConfirmLater set, joins the
// next group commit without being waited for (GroupCommit.CommitLater),
// as a confirmation lost to a crash leaves the load unconfirmed, to be
// settled like one whose TAC never came. A confirmation books no
// operation key: it moves no money, and a load's row is settled once. A
// batch has no savepoint an operation: an operation refused for its own
// reason rolls the transaction back and the batch is committed again
// without it (RetryBatch), as refusals are rare; the audit chain's head
// is read once a batch.
//
// # Channels
//
// Money comes in and goes out through a Channel: cash at our own
// counter, a bank card at a counter or kiosk, a third-party payment
// (Alipay, WeChat Pay: its reference required), a partner bank's counter
// (its own staff and service points); its Party is the registry party
// whose settlement account the money passes through. A fifth type,
// topup_claim, is internal: the load of a remote top-up claimed on its
// card, from the top-up pending account (Party the issuer, Reference the
// top-up's ID); only TopUps.Claim books through it and the API's
// channels are the other four.
//
// Every money operation through a channel says so on its Booking
// (Channel, ChannelFen paid in or out, LoadFen of it onto a card), and
// the store keeps it in the same transaction as a ChannelMove
// (cms_channel_moves, ChannelStore) with the operation's service point
// and actor (its audit record's): a counter's ID, a partner bank's
// branch, "terminal:ID" for a kiosk or counter reader, "self" for the
// app, "phone" for the cardholder's phone. Clearing reckons a channel's commission per load from them: a
// load's move has LoadFen its amount, a reversal minus it, so that the
// loads of a channel, a service point or a day are sums of its moves.
// A remote top-up's commission is on its payment's move (the payer's
// channel); its claim's move names the kiosk (or the phone) that wrote
// it.
//
// # Remote top-up
//
// A remote top-up (补登; London's Oyster collects such loads at the
// gate in the same way) is paid on the web or in the app and written
// onto the card at its next kiosk, counter reader or phone NFC tap. TopUps
// takes it over a TopUpStore and the load host:
//
//   - Pay (staff, a payment channel's account) and SelfService.TopUp (the
//     holder's own card only: OwnCard; the key kept as "holder:ID/KEY")
//     book the money received through the payer's channel (bank card,
//     third party with its reference, partner bank; never cash) into the
//     issuer's top-up pending account, a liability apart from the float,
//     as nothing is on the card yet: no flow of the card moves. The
//     amount is at most one load (it is claimed in one); the product's
//     TopUpDays (products file topup_days, 30 when unsaid, 0 for none)
//     from the payment is its claim time (ClaimBy); a card waits for at
//     most TopUpsPendingMax. The top-up's ID is 16 hex digits of the
//     payment's key (TopUpID), so that a retry names the same top-up.
//   - A kiosk asks for the card's claimable top-ups (Pending) and runs
//     the normal online load for one of them, its amount: INITIALIZE FOR
//     LOAD, the card's answer to Claim, which is LoadHost.Authorize
//     through channel topup_claim. The host checks MAC1, settles the
//     card's unconfirmed load, then asks the claim check (a hook the host
//     calls under the card's lock on the card as read: the top-up is this
//     card's, of the session's amount, pending and not past ClaimBy),
//     checks the card's limits as for any load (the cap against the
//     balance under MAC1, the per-load and daily limits), books the load
//     (pending account to float, a load flow on the card) and answers
//     MAC2; the TAC goes to Confirm as any load's.
//   - A claim whose TAC never comes is an unconfirmed load like any
//     other: the card's next session confirms it (counter past) or
//     reverses it (same counter: the money back to the pending account,
//     the top-up claimable again); Settle confirms it from the card's
//     records; a late TAC reinstates it.
//   - Sweep expires the top-ups not claimed by their ClaimBy and
//     refunds each to its payer (pending account to the payer's
//     settlement); Refund does the same before ClaimBy at the payer's
//     request. One refund a top-up: its key is "topup-refund:ID"
//     whoever asks, so a sweep and a clerk racing book it once. The
//     sweep also stores as claimed the top-ups whose claim is confirmed
//     (an audit record, no money), so that the rows stored pending, which
//     a kiosk's question and the sweep read, stay the few waiting.
//   - A top-up follows its card: when the card is replaced
//     (Manager.Replace) its pending top-ups move to the new card
//     (FollowReplacement: the row's card rewritten, pending still, the
//     claim time the payer's, an audit record each, no money, as the
//     pending account is the issuer's whichever card a top-up waits for),
//     claimable there once it is issued. One claiming stays with its
//     claim's card until that settles; reversed (the old card's next
//     session), it follows at the balance move (Manager.MoveBalance moves
//     what still waits) or at a retry of the replacement. The move runs
//     after the replacement commits, so a crash between them leaves the
//     top-ups on the old card until that retry (the replacement retried
//     under its key, replayed, moves them; storetest's
//     CMSTopUpsFollowRetried fails the move once). A claim on a replaced
//     card is refused (Conflict) naming its replacement.
//
// The state machine (NextTopUp; a move not listed is a Conflict naming
// the top-up, its state, the move and the states it is allowed from):
//
//	move             from                to
//	claim            pending             claiming  (the claim's load authorized)
//	confirm claim    claiming            claimed   (the load confirmed: TAC, next load, records)
//	reverse claim    claiming            pending   (the load reversed: a new session at its counter)
//	reinstate claim  pending, claiming   claimed   (a reversed claim's TAC after all)
//	expire           pending             expired   (past ClaimBy, refunded by the sweep)
//	refund           pending             refunded  (at the payer's request)
//	follow replacement pending           pending   (on the card's replacement)
//
// One fact, one place: the top-up's row keeps the payer's side (pending,
// expired, refunded; claimed once the sweep has seen the claim
// confirmed); the card's side is its claim's online load, whose
// status the load host's own state machine moves (ClaimState:
// unconfirmed is claiming, confirmed claimed, reversed pending again), so
// the load host needs no more than its hook and the two can never
// disagree. A refund and a claim racing are serialized by the card's
// lock in one process and by the card's version across processes (the
// refund writes the card one version on, as every load does), and the
// store settles a top-up only over a pending row with no live claim.
//
// A late TAC after the money has gone (error handling, 差错处理): a claim
// reversed (the card's other session at the same counter reached the host
// first, two readers on one card), the top-up then refunded to its payer
// or expired, and the reversed claim's TAC arriving after that. The TAC
// proves the card credited the claim: the load is genuine and is booked
// again (LoadHost.reinstate), the card's book and the float keeping what
// the card holds. It cannot come from the top-up pending account, which
// paid the money out with the refund and would go negative; nor is the
// card debited, as its purse is offline. The payer has been paid twice
// (the card holds the load, and they hold the refund), so the refund is
// what was wrong: the load is booked from error_receivable:PAYER, an
// asset of what the payer owes back, which the refund's reclaim (a
// clawback through the payer's channel, its settlement into
// error_receivable) clears; the top-up stays refunded (or expired), its
// claim confirmed beside it, which is how staff find the case. A top-up
// loaded twice, its reversed claim on a replaced card credited after it
// was claimed on the replacement, books the second load from
// error_receivable:ISSUER in the same way (the issuer recovers it from
// the cardholder). While the top-up still waits, a late TAC takes its
// money from the pending account as any claim, and the top-up is claimed
// (TopUps.reinstateFrom).
//
// Conservation with remote top-ups: per card, the loads (claims among
// them) and the rest of the flows are as before; beside them, per
// top-up, paid + reclaimable = claimed + refunded + pending (reclaimable:
// the amount of a refunded top-up whose claim was credited after all,
// the error receivable's part of it), and the sum over the
// pending top-ups is the top-up pending account's balance in the ledger
// (the property test checks both after every step).
//
// # Storage and the audit log
//
// The package declares the storage it needs (Store) and the rules stay
// here: Manager validates, encrypts a cardholder before the store sees
// them, checks eligibility and the state machine, and hands the store
// each change together with its audit record; sqlite.DB.CMS and
// postgres.DB.CMS keep what they are given, and the shared suite
// (storetest) runs on both. A card is written only over the version it
// was read at (Store.UpdateCard), so of two moves racing on one card the
// second is a Conflict, to be read again and retried. Cardholder IDs are
// dense from 1 on both stores (a refused registration takes no number).
//
// A money operation commits whole (Store.Commit, through Manager's Sell,
// Load, Replace, MoveBalance, Refund and LateLoss): its key and input hash, the
// flows of the cards it moves (the per-card terms of conservation, kept
// in the store so that a card's book balance is a sum away), its ledger
// entries, the cards it moves and creates, and its audit record, all in
// one transaction, or none of it; the moves that move money (issue,
// replace, move balance, refund) are made only this way, as Manager.Move
// refuses them. The key is asked first, before the card is read (a retry
// finds the card already moved: it is answered as replayed, and nothing
// is booked twice), and again inside the transaction against a race. Every money operation writes its card one
// version on even when the state stays, so that two loads racing on one
// card are serialized: the second is a Conflict, to be retried on the
// shadow's new balance. The balances a money operation needs (the
// shadow's balance, the purchases since issue, the day's loads) are its
// caller's to give, from acquire's card shadow: card management keeps no
// copy of the card's purse. Flows name their card by ASN alone: card
// management keeps the cards of our own issuer, of which the registry
// knows exactly one.
//
// A loss report lists the card on the blacklist terminals download (the
// Manager's Blacklist, WithBlacklist), its reason holding the report's
// time; a cancelled loss delists it. The move is stored first: a
// blacklist that fails then is kind IO with the card moved, and ListLost
// lists it again.
//
// Every change writes one audit record in its own transaction: who (the
// Actor), at which service point, when, the subject ("card:ISSUER/ASN",
// "holder:ID", "topup:ID"), the action, and JSON snapshots before and after. A
// cardholder's snapshot is its ID, look-up hash and the SHA-256 of its
// ciphertext: the log proves what changed and holds no personal data.
// The log is append-only (the stores' triggers refuse an update or a
// delete) and hash-chained (AuditRecord.Chain: SHA-256 over a domain prefix,
// the previous hash, the sequence number, the time and every text field
// length-prefixed; testdata/audit.golden pins it); VerifyAudit walks the
// chain and names the first record that does not follow. The stores
// serialize card management's writes (SQLite's single writer; a table
// lock on PostgreSQL), so each record chains after the one before;
// citycard audit verify walks it.
//
// # Staff, sessions and approvals
//
// A member of staff (StaffMember) is a login name, a role and the
// service point they work at (its ID and kind: own counter, agent,
// mobile point, partner bank's branch). The roles each include the ones
// before them: auditor (reads everything, changes nothing), clerk
// (serves cardholders), supervisor (also approves what needs a second
// person), admin (also manages staff, parties, terminals, products).
// Terminals and kiosks are not staff: they keep their own credentials in
// the registry and reach only their own routes. A partner bank's branch
// is named BANK/BRANCH (its bank's registry party first), and its staff
// act for their bank only (StaffMember.MayServe, MayRead: money through
// their bank, no other bank's co-branded card, their bank's clearing
// statement alone), each refusal a Permission naming the member, their
// role and their service point.
//
// Staffing keeps the accounts over a StaffStore (sqlite.DB.Staff,
// postgres.DB.Staff; the shared suite runs on both). Passwords (12 to 72
// bytes: bcrypt reads no more) are kept only as bcrypt hashes
// (golang.org/x/crypto/bcrypt, cost DefaultBcryptCost): the library
// draws the salt, encodes the cost and compares in constant time, so no
// hashing code of ours stands between a password and its check. A login
// (Login) checks the password and opens a session: a random 256-bit
// token, handed out once and stored only as its SHA-256 (a token has all
// the entropy a hash needs; a password has not, hence bcrypt), lasting
// DefaultSessionTTL (at most SessionTTLMax); each request reads the
// session and the account, so a disabled account's sessions end at once.
// An unknown name costs a bcrypt comparison too, so that the answer's
// time does not tell which names exist. Failed logins are limited per
// name: from the LoginFailureMax-th failure within LoginWindow of the
// first, the name is refused (kind Throttled with the wait, even with
// the right password) until that window ends (NextLoginFailure); a good
// login forgets the failures. The count, the window's first failure and
// the lock's end are stored (LoginFailureStore, migration 0027), so that
// a restart or a second process over the same database keeps them; each
// is written only over what was read (a swap, read again and retried a
// few times when another login came first), and the failures of names
// whose window is over are dropped at the next failure written. While
// the store cannot read or write them a login is kind IO (503), never
// a wrong password: a guess that cannot be counted is not answered.
//
// An Approval is a request that needs a second person: a refund paying
// out more than the service point's limit (package api's
// RefundApprovalFen), and every manual adjustment ("Manual
// adjustments"). Its requester
// cannot decide it, nor can anyone below supervisor (Approval.Decide);
// it is decided once (a second decision is a Conflict); and it grants
// only the request it was asked for, byte for byte, to its requester
// (Approval.Grants), who makes it by sending that request again with the
// approval's ID. Adding, disabling and enabling an account, asking for an
// approval and deciding it each write an audit record ("staff:NAME",
// "approval:ID") in the same transaction, into the same chain as cards
// and cardholders; a login is not a change and writes none.
//
// # Manual adjustments
//
// A manual adjustment (Manager.Adjust) credits or debits a card's money
// by a stated reason (1 to AdjustReasonLenMax bytes), an amount in fen
// (more than 0, at most AdjustFenMax) and an idempotency key, and always
// needs a supervisor's approval (issue 9): an Approval of action
// "adjust" on the card, its request the AdjustRequest's canonical JSON
// (key, direction, amount, reason), asked for by the clerk
// (Staffing.GateAdjust with no approval) and decided by a supervisor who
// is not the requester; the clerk then sends the same request again with
// the approval's ID, and Adjust checks the approval grants exactly it to
// them (Approval.Grants) before anything moves. So one approval makes
// one adjustment: another key, amount or reason is another request. The
// money is the issuer's adjustment account's (ledger adjustment:ISSUER,
// an expense beside issuer_loss), double-entry against the card float,
// and every adjustment writes its audit record with the reason, the
// approval and its approver.
//
// Where it may apply follows where the card's balance is:
//
//   - In the back office (a card damaged or replaced, its balance
//     waiting to move or be refunded: its book is the balance): the book
//     is credited or debited (Adjustment.Book; flows adjust_credit,
//     adjust_debit, which the book balance, BookBalances and BookTotal,
//     and so the refund, the balance move, the late losses and the float
//     report's three figures all count). A debit never takes the book
//     below 0 (what the cardholder is owed, the balance as of the cut,
//     at most; else kind Insufficient); a credit never past the
//     product's balance cap (Conflict), which the balance could not move
//     onto a replacement past.
//   - On the chip (a card issued or active): the back office cannot
//     write the chip, so a credit is a remote top-up paid by the
//     issuer's adjustment account (channel type AdjustmentPay, the
//     payer's reference "approval:ID"; at most one load), claimed at the
//     card's next kiosk, counter reader or phone tap as any top-up and
//     expiring back to the adjustment account; the claim is a load, so
//     the chip and the book stay equal. Its entries are of type
//     adjustment, not topup, and it has no channel move: no channel took
//     its money, and clearing sees only its claim, through the issuer
//     itself. A debit is refused (Conflict, saying why): the chip holds
//     the money; the card is reported damaged (or lost and replaced)
//     first, and then its book is debited.
//
// A lost card is refused (Conflict): it may be found and its loss
// cancelled, its chip holding the balance again, which an adjustment of
// its book would not be on; once replaced, its book holds the balance
// for good. A card in any other state (applied, personalized, expired,
// closed) is refused too. The approval Adjust is given is the staff
// store's, as Staffing.GateAdjust read it; Adjust checks it grants the
// request, the store that it exists. An adjustment's top-up refunded
// before its claim (TopUps.Refund, the sweep at its expiry) goes back to
// the adjustment account: the adjustment undone, no money out.
//
// A retry of the request under its key answers replayed (a top-up made
// answers its top-up, whatever the card's state since); the key with
// another request is a Conflict. A card's adjustments are listed from
// their approvals (Staffing.Approvals, newest first: each request, its
// state, who asked and who decided; migration 0033 indexes them by
// subject).
//
// # Self service
//
// A cardholder reaches their own cards from the app or the website
// (SelfService, over a HolderAccountStore beside the staff's): they
// register with a card and the identity document it was issued against
// (the card's cardholder must be the one the document's look-up hash
// finds; any mismatch is one Permission that does not say which half was
// wrong), choose a password (bcrypt, as staff's), and log in with the
// document and the password, limited per document as staff logins are
// per name (the limiter keeps the look-up hash, never the number). A
// session token is kept by its SHA-256 as staff's. Every card the holder
// asks for passes OwnCard: another's card and a card that does not exist
// are the same NotFound, so that a holder learns nothing of others'
// cards. They see their cards, a card's flows (its last transactions)
// and report a loss (the audit log names "holder:ID" at "self").
//
// # Loads on the cardholder's phone
//
// The cardholder's own phone is an NFC reader at the card (package
// terminal's PhoneLoad): no PSAM, no spool, no terminal credentials.
// It reaches the host with the holder's self-service session, never a
// terminal's token, and what it may load is a remote top-up, nothing
// else: it claims one already paid (on the web, in the app, at a
// counter) on the holder's own card (SelfService.PhoneTopUps,
// PhoneClaim, PhoneConfirm). A load "paid on the phone" by a third
// party is the same two steps, the payment first (SelfService.TopUp:
// the channel tag and its reference, under the holder's key) and then
// its claim at once (api.PhoneClient.PayAndLoad). So the phone never
// books money it says was paid straight onto a card: the payment is
// received into the top-up pending account before any card is touched,
// a tap that fails leaves it claimable at the next tap (phone, kiosk or
// counter) or refunded to its payer at its claim time, and one kind of
// load (the claim, through channel topup_claim) carries every phone's
// money onto a card, with the host's checks of a kiosk's claim whole:
// MAC1, the card's state and limits, a retry of the session answered
// again and booked once, an old session refused, the card's torn
// claim settled by its next session, the TAC.
//
// A phone's session is checked before the host sees it: the card is the
// holder's own (OwnCard: another's card and none are one NotFound) and
// the session's terminal ID is the holder's phone's (PhoneTerminal: FE
// and the holder's ID in 5 bytes, a range no registry terminal uses),
// which the phone writes into INITIALIZE FOR LOAD: the card's log and
// the load's key then name the phone, and one holder's phone cannot
// confirm or replay a session of another's or of a kiosk. The actor is
// the holder at PhoneServicePoint ("phone"), which the audit records
// and the claim's channel move keep, so that clearing and the reports
// see the phone's loads apart from a kiosk's and the app's payments.
package cms
