// Package console is the back office's web console: server-rendered
// pages (html/template) for staff, with htmx for the few in-place
// actions and Chart.js for the charts, both embedded (assets/, the
// minified files as npm publishes them, with their licences), so that
// go build needs no npm and nothing downloads at run time.
//
// # Pages
//
// The routes table (Console.routes) lists every page with the least role
// that sees it: the overview (the day's taps, records booked, revenue,
// cards seen, terminals active, flagged, duplicates, rejections,
// suspense and loads, each against the day before, and taps by hour);
// ridership by hour, line and station (a chart and the table of every
// figure) and the busiest stop pairs; the rejection journal by reason,
// with resubmission (operators); the newest flagged records with their
// reasons; card look-up (the card's shadow and blacklist state, listing
// and delisting for clerks, and what card management knows of it);
// terminals, the stalest first; a batch's
// journaled records; the fare what-if (api.Replays) as charts; the
// clearing cycles, a cycle's positions and its sign-off, what is behind
// a party's position; the key versions; the application stamps; and a
// page per application system with the records behind its figures.
//
// Every figure links to what is behind it, down to records: a day's
// figures to the terminals that made them, a terminal's figures to its
// batch's records, a rejection reason to its rejections, a flagged
// record to its batch and card, a party's position in a cycle to its
// lines and its terminals' batches in the cycle's range, an
// application's figures (hours and places too) to its records of the
// day. The overview's and ridership's hours have no link: no read of
// the journal by hour exists yet; nor have the journal's application
// stamps (/apps): an application's own page lists its records.
//
// # Clearing, keys and applications
//
// The clearing pages read the cycles through Cycles (clearing.Cycles
// and its store, adapted by cmd/citycard), not through the API. The
// store keeps no list of cycles, so the list walks it back from a day
// (Store.Before), cyclesPerPage (31) cycles a page and one more read to
// know whether an older page exists. A cycle's page shows its positions
// in yuan from the stored Result (a chart of the chartBars largest nets,
// the table of every party up to maxTableRows, the total of them all),
// the breaches of net debit caps, the records taken by class and the
// settlement files' names and SHA-256. A file is sent only for a closed
// cycle: SettlementFiles writes it again (exchange.Files, from the
// registry now) and the console sends it only if its SHA-256 is the one
// the cycle closed with, otherwise Conflict (the registry changed). The
// sign-off is one form, for supervisors (RoleSupervisor): it reviews a computed cycle and
// approves a reviewed one through clearing.Cycles.Approve, which refuses
// the reviewer approving (Permission, a 403 page) and a cycle moved
// meanwhile (Conflict); the form names the move its page offered, so a
// page left open over someone else's move signs nothing it did not show.
// A party's page reads the cycle's journal range for the batches of the
// party's terminals, at most partyScanMax (1,000,000) records (a
// 20M-record day would make a page wait; past the bound it says which
// part it read) and maxTableRows batches.
//
// The keys page asks the key store only for List: metadata (issuer,
// type, version, algorithm, KCV, origin, creation, active), so no key
// material can reach a page; the store records of a ceremony only the
// origin ("components 2 of 2", "generated"), which the page shows. The
// applications page counts the stamps (acquire.ClassApplication records)
// by day, application (the record's network field) and action (its
// product field), folded by the tally (Day.Apps, at most 255 x 255 keys
// a day, as the record's rules bound both to 1-255), newest day first,
// the table cut at maxTableRows.
//
// An application's page (Apps: *apps.Office in serve) shows one day of
// one application: its daily report (apps.Office.Report, the figures the
// API's report gives: taps and distinct cards by action) and the reports
// of appReports made for its kind from the day's records: taps by hour
// and by place (a gate, a site, a desk), the cards inside at the day's
// end and hour by hour (campus, parking: a card's last check-in or
// check-out that day being a check-in), loans less returns and the cards
// with more out (library), the bikes out at the day's end and hour by
// hour, and the bikes out now with their minutes out and whether they are
// overdue, each linked to its card's records (bike: apps.Office.OpenRentals,
// when Apps has it, at the console's clock). A report is one entry of appReports (the
// kinds it is for and a function of the day); its figures link to the
// records page, which lists the day's records behind each (a card's
// linked to its page). The store has no read of an application's
// records by day, so the page reads them by position from the first
// (apps.Office.Records), at most appScanMax (100,000), and says so past
// it: the report's figures still count every record. The day is the
// date the records carry, the records in time order.
//
// A school's page links its attendance page (attendance.go; Apps holding
// Attendances, as *apps.Office does): for a day, a table a class of the
// day (apps.Office.Classes: a class with a pupil whose grant covers the
// day, at most apps.AttendanceClassesMax, saying so past it; ?class=N
// for one), each pupil present, late or absent by apps.Office.Attendance
// (the API's report, late after ?late=, 08:00 by default), and a chart
// of the three by class. The present and late figures link to those
// pupils' check-ins and check-outs on the records page (?presence=,
// ?class=), the absent, who have none, to the table of those pupils,
// and each pupil to its card's records of the day (?card=).
//
// # Cards
//
// The card page reads card management through Cards (CMS adapts a
// cms.Manager; cmd/citycard wires the API's): the card's state, its
// product, its holder masked (name, document and phone as cms masks
// them: no personal data in clear reaches a page), the book balance of
// all its flows (cms.BookBalances) and its last transactions, the newest
// cardFlowsMax (50, as many as the cardholder's app shows) first, saying
// so when it cut them; the store reads every flow of the card to sum
// them. The lifecycle moves staff make from the page are report loss,
// cancel loss, expire and renew, and a concession card's annual review
// (年审: cms.Manager.Review, the cardholder checked again, the next
// review due shown), for clerks and above (an auditor is offered no button and
// a post is a 403 page), each one form naming the move, made through
// cms.Manager.Move with the staff member as the actor (at their service
// point; "console" for an account that names none), so that the move is
// audited and a loss goes onto the blacklist (a cancel takes it off).
// The page offers a move only from a state that allows it (and a loss
// report only on a card with a holder: an anonymous card is nobody's to
// report; an expiry only past the card's last day of validity, a review
// only of a concession card in use); the page shows the card's expiry
// and its review due; a form posted anyway (a page left open over another move) is
// cms's Conflict, its message naming the card's state and the move. A
// move whose blacklist change failed is kept (the card moved) and the
// page says so.
//
// A lost or damaged card is replaced from its page by a clerk: the new
// card's ASN typed, the replacement fee on the button, paid in cash at
// the counter (CMS.CashParty's settlement account: the card's issuer's
// by default), through cms.Manager.Replace in the clerk's name; the
// page then links the old card and the new. A refund shows its quote
// first (GET /cards/refund: the balance, as of the loss report for a
// card lost, from acquisition's purchases booked through CMS.Balances,
// api.ShadowBalances in serve; the deposit paid back or kept; the fee
// and its rule; the payout), and its form confirms it (POST
// /cards/refund), paid out in cash, through cms.Manager.Refund. A payout
// over the limit (CMS.RefundApprovalFen, the API's by default) asks a
// supervisor's approval instead, through cms.Staffing.GateRefund as the
// API's refund does, and moves nothing; a supervisor (never the
// requester) approves or rejects it from the card's page (POST
// /cards/approval); the clerk then confirms the refund with it, from the
// page the asking left or from the quote's page naming the approval
// (?approval=N: the approval's request holds the confirmation's key, so
// that what was approved is what is confirmed). Each form carries an
// idempotency key drawn when the page was made: a form sent twice books
// nothing twice (a refund sent again over a card it closed answers so).
//
// # Figures: the tally
//
// The figures are sums of journaled records, folded by the Tally as it
// tails the journal (Replay after the last position folded), so that a
// page costs the records journaled since the last page, and a refresh
// folds at most about a million records: BenchmarkTallyFold folds
// 830,000 records a second on one core here, so a page waits at most
// about a second and a half, and a 20M-record journal is caught up after
// a score of pages, each saying "catching up" until then. A day is the
// date the record carries (local time: the civil date of the tap, not
// the clearing's business day nor the fare what-if's operating day).
// Taps are the records of purchase taps booked or held in suspense (a
// load is a tap too, counted apart as a load); a grey record recovered
// later is booked (its amount in revenue) but not a second tap. Revenue
// is the amounts of the records booked. The tally keeps MaxDays days
// (the oldest dropped), counts distinct cards up to MaxCardsCounted a
// day (past it the figure is a lower bound, shown with a +), keeps the
// newest MaxFlagged flagged records, and counts rejections by reason and
// upload day. A terminal's
// last upload is the commit time of the last batch with a journaled
// record (a batch whose records were all rejected does not count). The
// tally decides nothing: the acquirer's decisions are in the journal,
// and the console only adds them up.
//
// # Sessions and roles
//
// Staff log in with a name and a secret, checked by StaffAuth (card
// management's stored staff accounts and their passwords, cms.Staffing,
// failed logins limited per name as at the API's login). A session
// is a random 256-bit cookie value (HttpOnly, SameSite=Strict, Path=/,
// Secure when served over TLS), kept by its SHA-256 in a table of at
// most MaxSessions (a full table drops the expired, then the session
// nearest its expiry), lasting SessionTTL from login. Every form that
// changes something carries the session's CSRF token (a hidden field, or
// the X-CSRF-Token header htmx sends from the body's hx-headers); the
// login form, before any session, carries a token that must equal a
// short-lived cookie's (double submit). An unauthenticated GET goes to
// the login page and comes back after; a role too low is a 403 page,
// whatever the form. Answers carry a Content-Security-Policy allowing
// only the console's own scripts and styles: no inline script anywhere
// (the charts read their data from a data-chart attribute).
package console
