// Package apps is layer 2 of the platform beyond transport: the
// application systems (应用系统) that use the citizen card as one card for
// many places: school gates (campus), the city library, sports venues,
// tourist sites, parking and public bikes. This package holds their offline core: the
// rules an application gate decides a tap by, from the entitlement file
// on the card alone, in microseconds, with no network. Card management
// (cardholders, products, grants at service points), the application API
// and the back office's reports build on it.
//
// # The model
//
// An application is data: a party (the school, library, venue, site group
// or parking operator) with its terminals and an entitlement per card.
// Where a gate decides offline, the entitlement lives in the card's
// entitlement file (package card, SFI 1Ah): up to six slots, each of one
// application at one scope (a school code, a library, a venue, a site
// group, a parking zone, a bike operator's zone), with its validity
// and its use so far. The file
// has its own key (the application master key, keys.KeyApplication,
// diversified by the ASN as every card key is), its own version and its
// own counter:
//
//   - the grant (application, scope, validity, class, limit) is written at
//     a service point or kiosk and proved by the grant MAC; a file that
//     did not come from the issuer fails it at the gate (refused forged);
//   - the file version goes up at each change of the grants; the back
//     office tells each application's gates, with their parameters, the
//     version each card whose grant of that application changed must
//     have at least (GateVersions; terminal.MinVersions is the gate's
//     copy), so a card whose entitlement was revoked, narrowed or
//     blocked by a loss is refused stale until its next online contact
//     (a kiosk, a service point, a load) rewrites the file (Rewrite);
//   - every stamp a gate writes moves the application counter and comes
//     back with the card's stamp MAC over it (keys.StampMAC): the gate
//     checks it at once (refused forged otherwise) and the PSAM seals it
//     in a non-financial record (record: type A0), which the back office
//     accepts by the application counter, keeps in the journal and never
//     books (acquire: "Non-financial records").
//
// # Rules (Decide)
//
// A tap names the gate's application, scope, place and action. Decide
// refuses, in this order:
//   - wrong_application: the file has no slot of the gate's application
//     and scope (another school's pupil at this gate, a card never enabled
//     for the library), or the action is not one of that application's;
//   - expired: today is outside the slot's valid from .. valid to, both
//     days included (a pupil's status until the end of the school year,
//     an annual pass for its year), except a library or bike return and
//     a check-out (campus or parking), which are never refused: the book
//     comes back, the pupil goes home, the car leaves, the bike is
//     docked;
//   - school_hours: a venue gate at a school's ground (Tap.Ground, a
//     venue owned by a school) on a weekday that is not a holiday, from
//     the school's opening to its closing (07:30 included, 17:00 not,
//     say), to a card without the school's campus slot valid today: the
//     ground is open to citizens outside school hours only (weekends and
//     holidays all day), to its pupils at any time, on its venue pass;
//   - canteen_limit: a campus canteen purchase (action canteen, at the
//     school's canteen POS, terminal.Canteen) that would take the day's
//     canteen spend past the slot's limit, the daily canteen limit in
//     fen the parents set (0: none, nothing counted); the spend is the
//     slot's uses, of the day of its last stamp, so it starts again at 0
//     on the first stamp of a new day (China time: midnight in
//     Asia/Shanghai), a check-in's too; spend exactly at the limit is
//     allowed, one fen more is not; never expired, as a check-out: the
//     limit binds while the slot is on the card;
//   - limit: campus has none; library, a loan when the loans out have
//     reached the loan limit (the limit-th loan is allowed, the next is
//     not); venue, an admission when the month's admissions have
//     reached the pass's limit (the count starts again on the first day
//     of the next month: the month of the last stamp is not this one);
//     site, an admission at a site the pass already entered today (each
//     site once a day; another site the same day is allowed, the same
//     site the next day too); parking, a check-in while the permit's
//     vehicle is inside (one vehicle per permit); bike, a hire while a
//     bike is out (one bike a card).
//
// and otherwise allows the tap with the slot's new use: campus, inside
// after a check-in, outside after a check-out; library, loans out up by
// one (a return: down by one, not below zero); venue, the month's
// admissions up by one; site, the site's bit set for today; parking
// and bike, inside (a bike out) or not.
// The gate (terminal.Gate) checks before Decide what needs keys or
// parameters: blacklisted (the card is on the blacklist, or its e-purse
// application is blocked), forged (a file that does not parse, a grant
// MAC that does not verify, a stamp MAC that does not) and stale.
//
// # The canteen limit and the venue's periods
//
// The parents set a pupil's daily canteen limit through the school's
// own app, with the school application's credentials (POST
// /v1/apps/{app}/cards/{issuer}/{asn}/canteen-limit, SetCanteenLimit),
// not the cardholder's self-service: the school knows which parent goes
// with which pupil and already tells them of the gates (平安校园), and
// the limit is a term of its grant, in the campus slot's limit field
// (16 bits of fen: at most 655.35 yuan a day), under the grant MAC. The
// file version moves, the school's gate version does not: a pupil is
// never refused stale at the school gate because the parents changed
// the canteen limit; the card's canteen POS holds it to the limit its
// file has until the next online contact rewrites it (Rewrite caps the
// day's spend at the new limit). On filing (IndexRecords) a canteen
// record whose day's spend passes the limit of the grant as it stands
// is flagged canteen_limit (AppRecord.Flag), kept and listed, never
// dropped: a stale card's older, higher limit, or a POS that did not
// count. The flag judges by the limit when filed, not when paid: a
// limit lowered in the evening flags that day's later uploads of
// meals within the earlier limit, for review.
//
// A venue sells admissions per period of its day (Period: start
// included, end not, at most PeriodsMax, each with a capacity; PUT
// /v1/apps/{app}/periods). CheckAt, the online check's answer to an
// admission at a given time, refuses venue_full once the admissions the
// back office has filed in that period of that day have reached its
// capacity (the capacity-th allowed, the next not): counted from the
// entries received, one indexed count (application and day), so an
// admission a gate holds unsent is not in it. A time in no period has
// no capacity. The offline gate does not count the period: it cannot
// know the other gates' admissions.
//
// # Numbers
//
// A gate has 300 ms for its whole exchange with the card; the decision's
// share is tiny. citycard bench gate (100,000 taps a run, one core, a
// virtual card and PSAM in the same process, so their crypto counts
// too) measured 32,000 to 40,000 taps a second, p50 0.02-0.03 ms and
// p99 0.06-0.13 ms of CPU time per tap across campus, venue, library,
// site and parking: under a tenth of the 1 ms target (the slowest tap of
// 100,000 took 2.5-6 ms, an outlier not yet looked into: a garbage
// collection or a preemption, most likely). Ten APDUs a
// tap (nine on a JT/T 978 card); a real card's transmission time, not
// the gate's CPU, is what a rider waits for.
//
// citycard bench api-check (2,000 granted cards, loopback HTTP, the
// embedded store, 2 cores at load average 1.3-1.6) held 2,000 checks a
// second for 10 s with no error: p50 0.81 ms, p99 3.6 ms, max 11 ms
// with 8 clients (the default), 0.24 ms of CPU a check, server and
// clients together (two indexed reads: the token's hash, the grant).
// With 32 clients the p99 was 51 ms at the same rate: more requests in
// flight than cores queue behind one another; at 1,000 a second, 3.8 ms.
//
// # Bikes
//
// Public bikes (公共自行车) are the sixth application (card.AppBike):
// deposit-free rental on a card's bike slot, whose scope is the bike
// operator's zone, whose inside is a bike out and whose last stamp is
// the hire. A hire (action hire) needs the slot (a card without one is
// refused wrong_application: not registered for deposit-free rental)
// and no bike out (limit: one bike a card); a return (action return) is
// never refused, a bike out or not, as a check-out. Grant refuses a
// bike slot (Conflict) to a card that card management does not call
// registered (Cards.Grantable: a card with a cardholder; an anonymous
// card has none), and to every card when the Office has no Cards to
// ask: the operator lends a bike without a deposit to someone it can
// find. Revoke refuses (Conflict) while the card's last filed record of
// the application is a hire: the card's next file would drop the slot,
// and with it the bike out, never charged. A dock takes a return from
// a stale file too (a changed grant stops the next hire, not the bike's
// return), and a hire refused limit or expired first closes an overdue
// bike out. A replacement carries the bike out (Follow: the old card's
// last filed record a hire, its date and time, kept with the new card's
// grant, migration 0032), so the new card's first hire closes it, or
// its return prices the whole rental: a lost card does not lose its
// bike's fare.
//
// The dock (terminal.BikeDock) charges at the return: the fare engine's
// time fare for the hire's duration (the network's time periods:
// bike_time on the sample feed, the first hour free, then 1.00 an hour,
// 10.00 a day at most), an e-purse purchase at the dock's POS. A bike
// out longer than the dock's limit (OutMax: BikeOutMaxDefault, 24 h, at
// most BikeOutMaxMax, as the fare engine takes a card's entry of a day
// ago at most) is overdue and pays the network's maximum fare instead
// (bike_max, 50.00: more than any day's time fare, so keeping a bike
// never pays), at its return or, never returned, at the card's next
// hire at any dock, which stamps the overdue rental's return, charges
// it, and only then hires (a card that cannot pay it is refused, kind
// Insufficient, nothing written). Exactly the limit is not overdue, one
// second more is. The dock decides offline, from the slot alone: it
// needs no list of the bikes out, and the next hire catches an
// unreturned bike wherever its rider next appears.
//
// OpenRentals lists the bikes out the back office knows of: each card
// whose last filed record of the application (the highest application
// counter, whatever the upload order) is a hire, with the hire's time,
// dock and terminal and whether it is overdue at the report's time
// (GET /v1/apps/{app}/reports/open-rentals, citycard app rentals). It
// reads the application's records in pages, one pass, and keeps one
// entry a card: an indexed store query (the last record of each card,
// as LastRecord's) is the next step once an operator's records run to
// millions. A return a dock holds unsent still shows its bike out.
//
// citycard bench gate --app bike (100,000 tap pairs on one core, the
// machine's 2 cores at load average 7.7-10.5) measured 7,200 to 7,600
// pairs a second, p50 0.12 ms and p99 0.26-0.29 ms of CPU a pair: a
// hire and its return (two stamps, each record sealed, the fare
// engine's price, the purchase), 29 APDUs; a parking gate's single tap
// measured 25,600 a second, p99 0.074 ms, at the same load. Far inside
// a terminal's 300 ms.
//
// # The back office (Office)
//
// An application (App) is a row, not code: an ID, a name, its kind (which
// of the six rule sets its gates decide by), its scope (the school,
// library, venue, site group, zone or bike zone code its slots carry), the registry
// party that operates its terminals, the SHA-256 of its API token and its
// webhook URL and secret. Adding one is citycard app add; a new kind, at
// most, a rule set here. One application a kind and scope (the store
// refuses a second, Exists), so a card's file never holds two slots of
// one.
//
// Credentials: a token is 32 random bytes in hex, shown once; the store
// keeps its SHA-256 and finds the application by it, one indexed read a
// request (a password hash such as bcrypt would cost milliseconds on
// every call, and the token has 256 bits, which no guessing needs slowed).
// The webhook secret is kept as is: signing needs it.
//
// Gate versions: every change of application A's grant on a card sets
// A's gate version of the card to the card's new file version, in the
// change's transaction, under the next number of one counter, and a
// gate downloads the changes after the last number it holds (GET
// /v1/terminals/{terminal}/entitlement-versions, its operator's
// application only, GateVersionsPageMax a page). Per application, not
// per card: the library's grant changing moves the card's file version,
// and a school gate still takes the pupil's older file, whose campus
// slot is as good as ever. Every writer of grants takes the counter
// first (PostgreSQL: a row lock; SQLite has one writer), so numbers
// commit in their order and a gate paging after its last number misses
// none. A cancelled loss raises the version too: the card found is
// refused stale at its gates until its file is rewritten, the price of
// a rule that never lowers a version.
//
// The concession slot: a concession card's file also holds a slot of no
// application, card.AppConcession (its rider category and the days it
// travels in it, its annual review's), which File adds last from card
// management when the Office has WithConcessions: a fare terminal
// prices the card at the adult fare offline once it lapses (package
// cms says why it is derived, not granted). It takes one of the file's
// card.EntitlementsMax slots: a concession card holding as many grants
// as that cannot be rewritten (Invalid) until one is revoked.
//
// Grants: each application's entitlement on a card (Grant) is one row,
// active, revoked or blocked, and each card has an entitlement file
// version that the store raises in the transaction of every change of
// the card's grants. File builds the file a service point writes from
// the active grants at that version (SignGrants seals it), so a card
// whose grant was revoked is refused stale at gates told the new
// version. The checks of a grant on what the card holds (no grant
// blocked by a loss, a slot free in the file: at most
// card.EntitlementsMax applications) and of a revocation (the grant
// still active) run inside the store's transaction that writes it, on
// the card's grants as they stand (Store.PutGrant's check), with every
// other writer of grants waiting: two grants racing for a card's last
// slot, one is refused Conflict. An application reads, grants and
// revokes only on its own
// grants: Office takes the caller's application ID, and another's card
// is NotFound, as a card that does not exist (the API answers 404, never
// saying which cards have grants elsewhere). Check answers an online
// "may this card borrow or enter today" from the grant alone (the use so
// far is on the card): wrong_application, blacklisted (blocked by a
// loss), expired (a return and a check-out never), or allowed.
//
// # Records and reports
//
// An application's records are the journal's accepted application
// records (record type A0) of its kind (the record's network) and scope
// (its line). IndexRecords files them in the store under their
// application: one reader of the journal for every application, from
// the lowest of the applications' positions, each position kept in the
// store and moved with the records it covers in one transaction,
// IndexBatchMax journal entries at a time. So a restart files nothing
// twice and misses nothing, and an application added after its gates
// first uploaded (position 0) gets those records too, while the others
// are passed over up to their positions: one scan of the journal, not
// one a request or an application. An application reads its own
// records only, in pages by journal position (Records, at most
// RecordsPageMax a page). Report counts a day's taps and distinct cards
// by action from them (an index on application and day). Attendance
// gives a school one class's day, each pupil present, late or absent
// from the first check-in against the late time, with the first
// check-in and the last check-out (attendance.go: who counts as a pupil,
// the bounds), on a school day of the school's calendar (Calendar: its
// weekdays but for its holidays, and its make-up days, 调休, set by the
// school through the API, PUT /v1/apps/{app}/calendar, at most
// CalendarDaysMax dates); on any other day nobody is absent or late
// (no_school), and the report says the day is not a school day. The
// calendar is data, the school's own, not the city's: schools' breaks
// differ, and a national holiday's make-up Saturday is a school day.
//
// Parents told (平安校园): filing a school's check-in or check-out queues
// an event (campus.check_in, campus.check_out, keyed "record-POS") in
// the outbox in the same transaction, so the school's app, which tells
// the parents, hears of it by webhook, or polls it (GET
// /v1/apps/{app}/events). The delay is the gate's upload interval plus
// serve's round (2 s) and the webhook's: a gate uploading every 30 s
// tells the parents within a minute.
//
// # Lifecycle and webhooks
//
// A card's loss, a cancelled loss and a replacement are card
// management's moves, and its hash-chained audit log records each.
// Follow reads that log after a cursor the store keeps and, for each such
// record of a card with grants, blocks its active grants (loss), makes
// its blocked ones active again (found), or revokes the old card's and
// grants the same terms to the new card, active (replacement); it writes
// the changed grants, the events (one an application concerned) and the
// new cursor in one transaction. So an event is
// never lost (a crash before the commit applies the record again; after
// it, the cursor is past it) and never queued twice (the cursor, and a
// unique idempotency key "cms-audit-SEQ-APP"). An application without a
// webhook URL gets the same events for polling only (next attempt
// PollOnly, never due). A record Follow cannot read (a subject or a
// snapshot that does not parse) would stop the lifecycle of every card
// for good if it stopped Follow: it is quarantined instead, kept with
// its reason and the cursor moved past it in one transaction, reported
// by serve's log and listed by citycard app quarantine; a store's fault
// still stops the round, and the next one starts again at the record.
// Deriving from the audit log rather than hooking card management keeps
// package cms unaware of
// the applications (it cannot import this package: cms imports the
// gates, which import it) and makes the log the one source of truth.
// serve follows every 2 s: an application hears of a loss within
// seconds.
//
// # Replacement and use
//
// The use of a slot lives on the card, and a replacement's file is
// written new at the hand-over (Rewrite with no file on the card). For
// a library that would be a whole new allowance with the old card's
// books still out, so Follow carries the loans out into the new card's
// grant (Grant.Slot.Uses, which a new file starts with): the old card's
// last known count, the loans out its last stamp left (the filed
// record of the highest application counter: Store.LastRecord), or,
// with none filed, what the old card's grant carried itself (a card
// replaced again before its first loan). The last count rather than
// loans less returns: it is the card's own count, MAC'd with the stamp
// and the one the gates enforce, so it is right whatever the records'
// upload order (the counter orders them, the journal does not) and
// needs one indexed read, not the card's whole history; a sum would be
// off by every return the card floored at zero and by any record
// before the first filed. Either misses the stamps a gate holds unsent
// at the hand-over (a kiosk offline): the new card's count is short by
// those loans, as many more allowed; the library's own system, which
// knows its books, is the judge of those few. A bike out is carried
// the same way (see "Bikes"). The other
// uses are not carried: a venue's admissions and a school's canteen
// spend count a month or a day, restarted by the last stamp's date,
// which a new file does not have; the most a replacement gives is the
// rest of that month's or day's allowance again.
//
// Deliver posts due events (Sender; the HTTP one is api.WebhookSender),
// each with the headers Idempotency-Key, X-Citycard-Event and
// X-Citycard-Signature "t=UNIX,v1=HEX": HEX the HMAC-SHA256 under the
// application's secret over "UNIX." and the body, so a receiver checks
// both the sender and the freshness (VerifySignature, with its
// tolerance). A 2xx is a delivery; anything else waits Backoff (1 s,
// doubled each failure, at most 30 min) and the event fails for good,
// kept in the outbox, after DeliveryAttemptsMax (12) attempts, about 1.5
// hours of trying. Delivery is at least once: a 2xx lost on the way is
// sent again, with the same key, so a receiver's idempotent handler sees
// each event once.
//
// # Why an own counter
//
// A check-in moves no money and no e-purse counter. Deduplicating it by
// the offline counter, as purchases are, would answer a pupil's second
// check-in of the day a duplicate of the first; the application counter,
// which the card moves and MACs with each stamp, makes every stamp
// unique, and a copy of one a duplicate.
package apps
