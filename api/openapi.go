package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
)

// The OpenAPI 3.1 document of this API, served at GET /v1/openapi.json.
// It is built from routes() (the method, path, guard and role of each
// route) and from operations below (what each does, its request body and
// its answer); TestOpenAPICoversRoutes walks routes.go and fails on a
// route without its operation or an operation without its route, so the
// two stay in step.

// operation describes one route for the document.
type operation struct {
	summary  string
	request  string // the request body's schema name in components ("" for none)
	response string // the answer's schema name
	status   string // the success status; "" for 200
	// requestMedia is the request body's media type; "" for
	// application/json.
	requestMedia string
}

// operations holds every route of routes(), keyed by its pattern.
var operations = map[string]operation{
	"POST /v1/terminals/{terminal}/batches":                    {summary: "Upload a batch of records (application/octet-stream with X-Batch-Id, X-Record-Count, X-Amount-Fen; or application/json)", request: "Batch", response: "BatchAnswer"},
	"GET /v1/terminals/{terminal}/blacklist":                   {summary: "Download the blacklist since a version, in pages (since, after_issuer, after_asn, limit)", response: "BlacklistDelta"},
	"GET /v1/terminals/{terminal}/parameters":                  {summary: "Download the terminal's parameters", response: "Parameters"},
	"POST /v1/terminals/{terminal}/loads":                      {summary: "A card's INITIALIZE FOR LOAD answer: MAC1 checked, the load booked, MAC2 (a resent session answers the same); kiosks and counter readers only (403 for another terminal type)", request: "LoadAuthorize", response: "LoadAnswer"},
	"POST /v1/terminals/{terminal}/loads/confirm":              {summary: "The card's TAC of a load: the load confirmed", request: "LoadConfirm", response: "LoadAnswer"},
	"GET /v1/rejections":                                       {summary: "Query the rejection journal (terminal, reason, after, limit)", response: "Array"},
	"POST /v1/rejections/{pos}/resubmit":                       {summary: "Resubmit a kept rejection once", response: "Object"},
	"GET /v1/cards/{issuer}/{asn}/shadow":                      {summary: "A card's shadow: counters, balances, gaps", response: "Object"},
	"GET /v1/batches/{terminal}/{batch}":                       {summary: "The journaled records of a batch (a ledger entry's source)", response: "Array"},
	"GET /v1/blacklist":                                        {summary: "The blacklist, with who changed each entry", response: "BlacklistDelta"},
	"POST /v1/blacklist":                                       {summary: "List or delist a card", request: "BlacklistChange", response: "Object"},
	"GET /v1/fares/replay":                                     {summary: "The fare what-if: replay the journal under a candidate feed", response: "Object"},
	"POST /v1/staff/login":                                     {summary: "Log in: a session token of bounded lifetime; failed logins are limited per name, the count stored (429 with Retry-After while refused; 503 while the count cannot be read)", request: "Login", response: "Session"},
	"POST /v1/staff/logout":                                    {summary: "End the caller's session", response: "Object"},
	"GET /v1/staff":                                            {summary: "A page of the staff accounts by name (after: the last name of the page before; limit: 1 to 1000, the default)", response: "StaffList"},
	"POST /v1/staff":                                           {summary: "Add a staff account", request: "StaffNew", response: "Staff", status: "201"},
	"POST /v1/staff/{name}/disable":                            {summary: "Disable an account: its sessions end at once", response: "Object"},
	"POST /v1/staff/{name}/enable":                             {summary: "Enable an account again", response: "Object"},
	"GET /v1/approvals/{id}":                                   {summary: "An approval request", response: "Approval"},
	"POST /v1/approvals/{id}/approve":                          {summary: "Approve a request: a supervisor, never the requester", response: "Approval"},
	"POST /v1/approvals/{id}/reject":                           {summary: "Reject a request: a supervisor, never the requester", response: "Approval"},
	"POST /v1/cardholders":                                     {summary: "Register a cardholder; the answer is masked", request: "CardholderNew", response: "Cardholder", status: "201"},
	"GET /v1/cardholders/{id}":                                 {summary: "A cardholder, masked", response: "Cardholder"},
	"POST /v1/cards":                                           {summary: "Apply for a card", request: "CardApply", response: "Card", status: "201"},
	"GET /v1/cards/{issuer}/{asn}":                             {summary: "A card and its book balance", response: "Card"},
	"POST /v1/cards/{issuer}/{asn}/issue":                      {summary: "Issue (sell) a card: deposit, issue fee and a first load; personalized first if still applied for", request: "CardIssue", response: "MoneyAnswer"},
	"POST /v1/cards/{issuer}/{asn}/activate":                   {summary: "Activate an issued card at the counter (a first load activates it otherwise)", response: "Card"},
	"POST /v1/cards/{issuer}/{asn}/loss":                       {summary: "Report a card lost: the report's time cuts liability, the card goes on the blacklist", response: "Card"},
	"POST /v1/cards/{issuer}/{asn}/unloss":                     {summary: "Cancel a loss report: the card comes off the blacklist", response: "Card"},
	"POST /v1/cards/{issuer}/{asn}/damaged":                    {summary: "Report a card damaged (handed back unreadable): the report's time cuts liability; replaced or refunded from its shadow after the cooling period", response: "Card"},
	"POST /v1/cards/{issuer}/{asn}/replace":                    {summary: "Replace a lost or damaged card with a new one", request: "CardReplace", response: "MoneyAnswer"},
	"POST /v1/cards/{issuer}/{asn}/refund":                     {summary: "Refund and close a card; over the approval limit answered 202 with an approval request, then made with its approval_id", request: "CardRefund", response: "RefundAnswer"},
	"POST /v1/cards/{issuer}/{asn}/adjustments":                {summary: "A manual adjustment of a card's money: answered 202 with an approval request, then made (201) with its approval_id, approved by a supervisor who did not ask; a card in use is credited by a remote top-up, never debited", request: "CardAdjust", response: "AdjustAnswer"},
	"GET /v1/cards/{issuer}/{asn}/adjustments":                 {summary: "A card's manual adjustments, newest first, from their approvals", response: "AdjustmentList"},
	"POST /v1/self/register":                                   {summary: "A cardholder's self-service account: the card and the document it was issued against, and a password (403 if card and document do not go together)", request: "SelfRegister", response: "Object", status: "201"},
	"POST /v1/self/login":                                      {summary: "A cardholder's session: document and password; failed logins limited per document", request: "SelfLogin", response: "Object"},
	"GET /v1/self/cards":                                       {summary: "The cardholder's own cards", response: "CardList"},
	"GET /v1/self/cards/{issuer}/{asn}":                        {summary: "The cardholder's own card: its balance and last transactions (another's card: 404)", response: "SelfCard"},
	"POST /v1/self/cards/{issuer}/{asn}/loss":                  {summary: "Report the cardholder's own card lost: onto the blacklist", response: "Card"},
	"GET /v1/clearing/cycles":                                  {summary: "A page of the clearing cycles, newest first (before: a day, YYYY-MM-DD; limit: 1 to 31, the default); next_before names the next page", response: "Object"},
	"GET /v1/clearing/cycles/{day}":                            {summary: "A clearing cycle: its state, range, who did what, totals and positions (amounts in fen)", response: "Object"},
	"POST /v1/clearing/cycles/{day}/run":                       {summary: "Open the day's cycle if need be, claim its journal range, prove it complete and clear it (again); no body", response: "Object"},
	"POST /v1/clearing/cycles/{day}/review":                    {summary: "Review a computed cycle (the first sign-off); no body", response: "Object"},
	"POST /v1/clearing/cycles/{day}/approve":                   {summary: "Approve a reviewed cycle: a second supervisor, never the reviewer; no body", response: "Object"},
	"POST /v1/clearing/cycles/{day}/close":                     {summary: "Close an approved cycle: final, its settlement files' hashes kept; no body", response: "Object"},
	"GET /v1/clearing/cycles/{day}/files/{file}":               {summary: "A settlement file or statement of a closed cycle: name, sha256, size_bytes and its text, the bytes it closed with", response: "Object"},
	"GET /v1/clearing/cycles/{day}/statements/{party}":         {summary: "An operator's statement of a closed cycle: by line, terminal and day, and its records with their TACs in pages (after: a journal position; limit: 1 to 500, the default); a payer's: its remote top-ups by issuer and day, and each one with its ledger entry in pages (after_top_up: a ledger entry)", response: "Object"},
	"POST /v1/clearing/recon/statements":                       {summary: "Import the bank's statement of the collector's account (the body: camt.053 as application/xml, or CSV as text/csv; at most 8 MiB) and match it against the closed cycles' instructions; 201, or 200 for a file imported before (nothing changed)", request: "BankStatement", response: "Imported", status: "201"},
	"GET /v1/clearing/interop/files":                           {summary: "A page of the interconnection files stored, in the order stored (after: a file's ID; limit: 1 to 100, the default); next_after names the next page", response: "InteropFiles"},
	"POST /v1/clearing/interop/files":                          {summary: "Import a file from the national centre (the body: the CCIC1 file, text/plain, at most 64 MiB; name: how errors name it): a corrupt or truncated file 422 naming its line and field, nothing imported; 201, or 200 with already true for the same file again (nothing changed)", request: "InteropFile", requestMedia: "text/plain", response: "InteropImported", status: "201"},
	"GET /v1/clearing/interop/files/{id}":                      {summary: "An interconnection file's header: type, direction, day, parties, records, amount_fen, the cycle that settled it", response: "InteropFileHeader"},
	"GET /v1/clearing/interop/files/{id}/body":                 {summary: "An interconnection file's bytes as exported or imported (text/plain; X-Sha256 their hash)", response: "Text"},
	"GET /v1/clearing/interop/files/{id}/records":              {summary: "A page of an OUT or INC file's records by seq, with their state and reason (after: a seq; limit: 1 to 500, the default); next_after names the next page", response: "InteropRecords"},
	"GET /v1/clearing/interop/cities":                          {summary: "The interconnected cities terminals accept on date (YYYY-MM-DD)", response: "InteropCities"},
	"POST /v1/clearing/interop/exports/{day}":                  {summary: "Export and store the OUT file of the closed cycle of {day} (again: the same bytes, nothing new); no body; its bytes are GET files/{id}/body", response: "InteropFileHeader"},
	"GET /v1/clearing/recon/findings":                          {summary: "The reconciliation's findings, oldest first (open=true: only those open; after: a finding's ID; limit: 1 to 500, the default); next_after names the next page", response: "Findings"},
	"GET /v1/clearing/recon/findings/{id}":                     {summary: "A finding: match-N, bank-N (a movement), an instruction's EndToEndId or a pay-in's reference", response: "Finding"},
	"POST /v1/clearing/recon/findings/{id}/resolve":            {summary: "Resolve an open finding: the caller, at their service point, with a decision and why; audited in card management's hash-chained log", request: "Resolution", response: "Finding"},
	"GET /v1/apps/{app}/cards/{issuer}/{asn}/entitlement":      {summary: "The application's grant on the card, whatever its state (a card it has no grant on: 404)", response: "Entitlement"},
	"GET /v1/apps/{app}/cards/{issuer}/{asn}/check":            {summary: "May the card do action (query: action check-in, check-out, admission, loan or return; date YYYYMMDD; time HHMMSS, required for an admission at a venue with periods) by the back office's grant and the period's admissions received", response: "EntitlementCheck"},
	"POST /v1/apps/{app}/cards/{issuer}/{asn}/grant":           {summary: "Give the card the application's entitlement (or change it); the card's entitlement file version moves", request: "EntitlementGrant", response: "Entitlement"},
	"POST /v1/apps/{app}/cards/{issuer}/{asn}/revoke":          {summary: "End the application's grant on the card; the file version moves, gates refuse the old file stale", response: "Entitlement"},
	"GET /v1/apps/{app}/records":                               {summary: "The application's own records (check-ins, admissions, loans), by journal position, in pages (after: a position; limit: 1 to 1000, the default)", response: "AppRecords"},
	"GET /v1/apps/{app}/reports/attendance":                    {summary: "A school's attendance of one class on one day (query: date YYYYMMDD, class 1 to 65535, late HHMMSS, default 080000): each pupil present, late (first check-in after late) or absent, at most 1000 pupils", response: "Attendance"},
	"GET /v1/apps/{app}/reports/open-rentals":                  {summary: "A bike operator's bikes out now, from its docks' filed records: each card whose last stamp is a hire, with its hire time, dock and terminal, overdue when out longer than out_max_minutes (1 to 1440, default 1440), by hire time", response: "OpenRentals"},
	"GET /v1/apps/{app}/reports/{day}":                         {summary: "The application's daily report ({day} YYYYMMDD): taps and distinct cards by action", response: "AppReport"},
	"GET /healthz":                                             {summary: "200 while the back office takes batches, else 503 with the reason", response: "Object"},
	"GET /metrics":                                             {summary: "Acquisition counters, Prometheus text format", response: "Text"},
	"GET /v1/openapi.json":                                     {summary: "This document", response: "Object"},
	"GET /v1/terminals/{terminal}/cards/{issuer}/{asn}/topups": {summary: "The remote top-ups a kiosk may claim on the card now, oldest first", response: "KioskTopUps"},
	"POST /v1/terminals/{terminal}/topups/{id}/claim":          {summary: "Claim a remote top-up: the card's INITIALIZE FOR LOAD answer for its amount, MAC2 answered; the TAC goes to loads/confirm", request: "TopUpClaim", response: "LoadAnswer"},
	"POST /v1/cards/{issuer}/{asn}/topups":                     {summary: "A remote top-up paid for the card through a channel (bank_card, third_party with its reference, partner_bank): held until claimed", request: "TopUpPay", response: "TopUpAnswer"},
	"GET /v1/cards/{issuer}/{asn}/topups":                      {summary: "The card's remote top-ups, newest first (at most 100)", response: "TopUpList"},
	"GET /v1/topups/{id}":                                      {summary: "A remote top-up (its ID: 16 hex digits)", response: "TopUp"},
	"POST /v1/topups/{id}/refund":                              {summary: "Refund a pending remote top-up to its payer; no body; one refund a top-up (a retry: replayed)", response: "TopUpAnswer"},
	"POST /v1/topups/sweep":                                    {summary: "Expire the remote top-ups past their claim time and refund them to their payers; no body", response: "Object"},
	"POST /v1/self/cards/{issuer}/{asn}/topups":                {summary: "Pay a remote top-up for the cardholder's own card (another's card: 404)", request: "TopUpPay", response: "TopUpAnswer"},
	"GET /v1/self/cards/{issuer}/{asn}/topups":                 {summary: "The remote top-ups of the cardholder's own card, newest first", response: "TopUpList"},
	"GET /v1/self/cards/{issuer}/{asn}/topups/claimable":       {summary: "The remote top-ups the cardholder's phone may claim on their own card now, oldest first (another's card: 404)", response: "KioskTopUps"},
	"POST /v1/self/cards/{issuer}/{asn}/topups/{id}/claim":     {summary: "The cardholder's phone (NFC) claims a remote top-up on their own card: the card's INITIALIZE FOR LOAD answer for its amount, under the phone's terminal ID (FE and the holder ID in 5 bytes), MAC2 answered as to a kiosk; the TAC goes to loads/confirm (another's card: 404)", request: "TopUpClaim", response: "LoadAnswer"},
	"POST /v1/self/cards/{issuer}/{asn}/loads/confirm":         {summary: "The card's TAC of a load the cardholder's phone ran: the load confirmed", request: "LoadConfirm", response: "LoadAnswer"},
	"GET /v1/terminals/{terminal}/entitlement-versions":        {summary: "A gate's application's entitlement file versions (query: kind, scope, after, limit 1 to 10000): the least version the gate accepts of each card whose grant changed", response: "GateVersions"},
	"POST /v1/apps/{app}/cards/{issuer}/{asn}/canteen-limit":   {summary: "A school's: set the pupil's daily canteen limit in fen for the parents (0: none); the file version moves, the gates' does not, and the canteen POS counts the new limit from the card's next online contact", request: "CanteenLimit", response: "Entitlement"},
	"GET /v1/apps/{app}/periods":                               {summary: "A venue's periods of the day, each with its capacity of admissions", response: "Periods"},
	"PUT /v1/apps/{app}/periods":                               {summary: "Replace a venue's periods (at most 48, by start, none overlapping, capacity 1 to 1000000; [] for none): an admission check in a full period answers venue_full", request: "Periods", response: "Periods"},
	"GET /v1/apps/{app}/calendar":                              {summary: "A school's calendar: its holidays (weekdays with no school) and make-up days (a Saturday or Sunday of school, 调休), each by date; any other weekday is a school day", response: "Calendar"},
	"PUT /v1/apps/{app}/calendar":                              {summary: "Replace a school's calendar (at most 400 dates in all, YYYYMMDD, each holiday a weekday, each make-up day a Saturday or Sunday, none twice; [] and [] for weekdays only): attendance on a day that is not a school day reports nobody absent", request: "Calendar", response: "Calendar"},
	"GET /v1/apps/{app}/events":                                {summary: "The application's outbox, polled (lifecycle events; a school's check-ins and check-outs, for the parents): by ID, in pages (after: an ID; limit: 1 to 1000, the default)", response: "AppEvents"},
	"POST /v1/cards/{issuer}/{asn}/move-balance":               {summary: "Move a replaced card's balance as of its loss report onto its replacement, after the cooling period (its use after the report borne by the issuer)", request: "CardMoveBalance", response: "MoneyAnswer"},
	"POST /v1/cards/{issuer}/{asn}/review":                     {summary: "Record a concession card's annual review (年审) today: the cardholder checked against the product's eligibility again (403 no longer eligible: the card keeps the lapsed category; 422 a product without a review; 409 a card neither issued nor active); the answer's review_due is the next; no body", response: "Card"},
	"POST /v1/cards/{issuer}/{asn}/expire":                     {summary: "Expire a card past its last day of validity (409 before it, or from a state other than issued or active); no body", response: "Card"},
	"POST /v1/cards/{issuer}/{asn}/renew":                      {summary: "Renew an active or expired card: validity_years more from the later of today and its expiry, the answer's expiry the new one (409 from another state); no money; no body", response: "Card"},
	"POST /v1/cards/expire-due":                                {summary: "The clock's expiry at once (serve runs it hourly): the cards issued or active past their validity expired, at most 500 a run, oldest expiry first; more: another run has some to do; no body", response: "ExpireDue"},
	"GET /v1/cards/dormant":                                    {summary: "The registered cards unused for their product's dormant_years, with their balance left on them, by issuer and ASN (after: the next_after of the page before; limit: 1 to 1000, the default)", response: "DormantPage"},

	"POST /v1/clearing/interop/cases":                {summary: "Raise an error (ERR) or dispute (DSP) case about an accepted record of an OUT or INC file (a supervisor's; the ref is its idempotency key: the same ref and input again 200 with already true, another input 409; one case of a type per record); it goes out in our ERR or DSP file of the day", request: "InteropCaseRaise", response: "InteropCaseRaised", status: "201"},
	"GET /v1/clearing/interop/cases":                 {summary: "Our cases of type (ERR or DSP) raised on date (YYYY-MM-DD), in the order raised (their order in the day's file), with their answers", response: "InteropCases"},
	"POST /v1/clearing/interop/exports/{day}/{type}": {summary: "Export and store our ERR or DSP file ({type}) of {day}, once the day is over (409 before); again: the same bytes, nothing new; no body; its bytes are GET files/{id}/body", response: "InteropFileHeader"},
	"GET /v1/clearing/params/fees":                   {summary: "The fee schedule versions stored, by party then effective day (at most the last 1000; more: earlier ones left out)", response: "FeeVersions"},
	"GET /v1/clearing/params/concessions":            {summary: "The concession share versions stored, by funder then effective day (at most the last 1000; more: earlier ones left out)", response: "ConcessionVersions"},
	"GET /v1/clearing/params/commissions":            {summary: "The commission schedule versions stored, by channel then effective day (the fee schedule form; at most the last 1000; more: earlier ones left out)", response: "FeeVersions"},
	"GET /v1/clearing/params/caps":                   {summary: "The net debit cap versions stored, by party then effective day (at most the last 1000; more: earlier ones left out)", response: "CapVersions"},
}

func str() map[string]any             { return map[string]any{"type": "string"} }
func strDesc(d string) map[string]any { return map[string]any{"type": "string", "description": d} }
func integer(d string) map[string]any {
	return map[string]any{"type": "integer", "format": "int64", "description": d}
}
func boolean() map[string]any            { return map[string]any{"type": "boolean"} }
func ref(name string) map[string]any     { return map[string]any{"$ref": "#/components/schemas/" + name} }
func arrayOf(name string) map[string]any { return map[string]any{"type": "array", "items": ref(name)} }

// object is a strict object schema: every property required unless
// named in optional, nothing else allowed (as readObject reads bodies).
func object(props map[string]any, optional ...string) map[string]any {
	req := []string{}
	for k := range props {
		if !slices.Contains(optional, k) {
			req = append(req, k)
		}
	}
	slices.Sort(req)
	return map[string]any{"type": "object", "properties": props, "required": req, "additionalProperties": false}
}

func channel(prefix string) map[string]any {
	return map[string]any{
		prefix:                strDesc("cash, bank_card, third_party or partner_bank"),
		prefix + "_party":     strDesc("the registry party whose settlement account the money passes through"),
		prefix + "_reference": strDesc("the payment's reference, at most 64 bytes; \"\" for none"),
	}
}

func merge(ms ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

var cardProps = map[string]any{
	"issuer": strDesc("issuer code, 16 hex digits"), "asn": strDesc("ASN, 16 or 20 hex digits"), "product": str(),
	"holder_id": integer("the cardholder; absent for an anonymous card"), "state": str(), "version": integer("moves made"),
	"applied_at": str(), "issued_at": str(), "lost_at": str(), "closed_at": str(), "expiry": str(), "review_due": str(),
	"replaced_by": str(), "replaces": str(), "book_balance_fen": integer("what card management owes on the card, fen (GET only)"),
}

// loadSession is a card's load session as a terminal sends it.
var loadSession = map[string]any{
	"issuer": strDesc("issuer code, 16 hex digits"), "asn": strDesc("ASN, 16 or 20 hex digits"), "key_version": integer("the card's key version"),
	"alg": strDesc("3des or sm4"), "online_counter": integer("the card's online counter"), "balance_before_fen": integer("the card's balance, fen"),
	"amount_fen": integer("the load, fen"), "random": strDesc("the card's random, 8 hex digits"), "date": strDesc("YYYYMMDD, BCD as hex"),
	"time": strDesc("hhmmss, BCD as hex"),
}

func schemas() map[string]any {
	approval := map[string]any{"id": integer(""), "action": str(), "subject": str(), "amount_fen": integer("fen"), "requested_by": str(),
		"requested_at": str(), "state": strDesc("pending, approved or rejected"), "decided_by": str(), "decided_at": str()}
	staff := map[string]any{"name": str(), "role": strDesc("auditor, clerk, supervisor or admin"), "service_point": str(),
		"point_type": strDesc("own_counter, agent, mobile or bank_branch"), "disabled": boolean(), "created_at": str()}
	money := map[string]any{"card": ref("Card"), "new_card": ref("Card"), "replayed": boolean()}
	topUp := map[string]any{"id": strDesc("16 hex digits"), "issuer": str(), "asn": str(), "amount_fen": integer("fen"), "payer": strDesc("bank_card, third_party or partner_bank; adjustment for a manual adjustment's"),
		"payer_party": str(), "payer_reference": str(), "paid_by": str(), "service_point": str(), "paid_at": str(), "claim_by": strDesc("it expires then, refunded to its payer"),
		"state": strDesc("pending, claiming, claimed, expired or refunded"), "settled_at": str(), "claim": strDesc("the live claim's load key")}
	adjustment := map[string]any{"approval_id": integer(""), "state": strDesc("the approval's: pending, approved or rejected"), "key": str(), "direction": strDesc("credit or debit"),
		"amount_fen": integer("fen"), "reason": str(), "requested_by": str(), "requested_at": str(), "decided_by": str(), "decided_at": str(),
		"made": boolean(), "topup_id": strDesc("the remote top-up that carries a credit of a card in use")}
	quote := map[string]any{"balance_fen": integer(""), "deposit_fen": integer(""), "deposit_kept_fen": integer(""), "fee_fen": integer(""), "paid_fen": integer(""), "fee_rule": str()}
	return map[string]any{
		"Error":           object(map[string]any{"error": str(), "kind": strDesc("the error's kind; its status follows one table")}),
		"Object":          map[string]any{"type": "object"},
		"ExpireDue":       object(map[string]any{"expired": integer("the cards expired by this run"), "more": boolean()}),
		"Array":           map[string]any{"type": "array"},
		"Text":            map[string]any{"type": "string"},
		"Batch":           object(map[string]any{"batch_id": str(), "count": integer("records"), "amount_fen": integer("the records' sum, fen"), "records": map[string]any{"type": "array"}}),
		"BatchAnswer":     map[string]any{"type": "object"},
		"BlacklistDelta":  map[string]any{"type": "object"},
		"BlacklistChange": object(map[string]any{"issuer": str(), "asn": str(), "listed": boolean(), "reason": str()}),
		"Parameters":      map[string]any{"type": "object"},
		"Login":           object(map[string]any{"name": str(), "password": strDesc("12 to 72 bytes")}),
		"Session":         object(map[string]any{"token": strDesc("the bearer token of the staff routes; shown once"), "name": str(), "role": str(), "service_point": str(), "expires_at": str()}),
		"Staff":           object(staff),
		"StaffList":       arrayOf("Staff"),
		"StaffNew":        object(map[string]any{"name": strDesc("1 to 32 of a-z 0-9 . _ -"), "role": str(), "service_point": strDesc("a partner bank's branch: BANK/BRANCH, the bank's registry party"), "point_type": str(), "password": strDesc("12 to 72 bytes")}),
		"Approval":        object(approval, "decided_by", "decided_at"),
		"CardholderNew": object(map[string]any{"name": str(), "doc_type": strDesc("resident_id, passport, hk_macau_permit, taiwan_permit or foreign_permanent_card"),
			"doc_number": str(), "date_of_birth": strDesc("YYYY-MM-DD"), "phone": strDesc("11 digits or \"\""), "school": str(), "studies_end": strDesc("YYYY-MM-DD or \"\"")}),
		"Cardholder": object(map[string]any{"id": integer(""), "name": strDesc("masked"), "doc_type": str(), "doc_number": strDesc("masked: 3302**********1234"), "phone": strDesc("masked")}, "phone"),
		"CardApply":  object(map[string]any{"issuer": str(), "asn": str(), "product": strDesc("a product of the products file"), "holder_id": integer("0 for an anonymous card")}),
		"Card":       object(cardProps, "holder_id", "applied_at", "issued_at", "lost_at", "closed_at", "expiry", "review_due", "replaced_by", "replaces", "book_balance_fen"),
		"CardIssue":  object(merge(map[string]any{"key": strDesc("idempotency key"), "load_fen": integer("a first load, fen; 0 for none")}, channel("channel"))),
		"DormantPage": object(map[string]any{"cards": map[string]any{"type": "array", "items": object(map[string]any{
			"issuer": str(), "asn": str(), "product": str(), "holder_id": integer("the cardholder"), "state": strDesc("issued or active"),
			"issued_at": str(), "last_use": strDesc("the newest record's time; absent: unused since its issue"), "dormant_since": str(),
			"book_balance_fen": integer("what card management owes on the card, fen: left there"),
		}, "last_use")}, "next_after": strDesc("ISSUER/ASN: the after= of the next page; absent on the last")}, "next_after"),
		"CardMoveBalance": object(map[string]any{"key": strDesc("idempotency key")}),
		"CardReplace":     object(merge(map[string]any{"key": strDesc("idempotency key"), "new_asn": str()}, channel("channel"))),
		"CardRefund":      object(merge(map[string]any{"key": strDesc("idempotency key"), "approval_id": integer("0, or the approval of this same request")}, channel("payee"))),
		"CardAdjust": object(map[string]any{"key": strDesc("idempotency key"), "direction": strDesc("credit or debit"), "amount_fen": integer("fen, 1 to 100000"),
			"reason": strDesc("1 to 200 bytes"), "approval_id": integer("0, or the approval of this same request")}),
		"Adjustment":     object(adjustment, "decided_by", "decided_at", "topup_id"),
		"AdjustmentList": arrayOf("Adjustment"),
		"AdjustAnswer":   object(map[string]any{"card": ref("Card"), "adjustment": ref("Adjustment"), "approval": ref("Approval"), "topup": ref("TopUp"), "replayed": boolean()}, "topup"),
		"MoneyAnswer":    object(money, "new_card"),
		"CardList":       arrayOf("Card"),
		"SelfRegister":   object(map[string]any{"issuer": str(), "asn": str(), "doc_type": str(), "doc_number": str(), "password": strDesc("12 to 72 bytes")}),
		"SelfLogin":      object(map[string]any{"doc_type": str(), "doc_number": str(), "password": str()}),
		"SelfCard": object(map[string]any{"card": ref("Card"), "balance_fen": integer("fen"),
			"transactions": map[string]any{"type": "array", "items": object(map[string]any{"type": strDesc("load, purchase, refund, moved_out, moved_in, loss_borne, load_reversed, adjust_credit, adjust_debit"), "fen": integer("fen")})}}),
		"LoadAuthorize": object(merge(loadSession, map[string]any{"mac1": strDesc("the card's MAC1, 8 hex digits")}, channel("channel"))),
		"LoadConfirm":   object(merge(loadSession, map[string]any{"tac": strDesc("the card's TAC of the load, 8 hex digits")})),
		"LoadAnswer":    object(map[string]any{"key": strDesc("the load's idempotency key: card, online counter, random, terminal"), "mac2": strDesc("8 hex digits (to an authorization)"), "status": strDesc("confirmed (to a confirmation)")}, "mac2", "status"),
		"Entitlement": object(map[string]any{"app": str(), "issuer": str(), "asn": str(), "kind": strDesc("campus, library, venue, site, parking or bike"), "scope": integer("the application's scope code"),
			"valid_from": strDesc("YYYYMMDD"), "valid_to": strDesc("YYYYMMDD"), "class": integer("campus: the pupil's class"), "limit": integer("library: loans at once; venue: admissions a month; campus: the daily canteen limit in fen"),
			"state": strDesc("active, revoked or blocked"), "changed_at": str(), "file_version": integer("to a grant or a revocation: the card's entitlement file version now")}, "file_version"),
		"AppRecords": object(map[string]any{"records": map[string]any{"type": "array", "items": object(map[string]any{"pos": integer("the journal position"), "issuer": str(), "asn": str(),
			"terminal": str(), "terminal_seq": integer(""), "action": str(), "date": strDesc("YYYYMMDD"), "time": strDesc("HHMMSS"), "place": integer("the gate's number, a site's"),
			"uses": integer("the uses the stamp left (a canteen's: the day's spend in fen)"), "counter": integer("the card's application counter"),
			"flag": strDesc("canteen_limit: the day's spend past the pupil's limit; absent for none")}, "flag")}, "next": integer("the after of the next page; absent on the last")}, "next"),
		"OpenRentals": object(map[string]any{"app": str(), "at": strDesc("RFC 3339, China time: the report's moment"), "out_max_minutes": integer("a bike out longer is overdue"),
			"overdue": integer("the rentals overdue"), "rentals": map[string]any{"type": "array", "items": object(map[string]any{"issuer": str(), "asn": str(),
				"hired": strDesc("RFC 3339, China time"), "dock": integer("the dock's number"), "terminal": str(), "overdue": boolean()})}}),
		"AppReport": object(map[string]any{"app": str(), "date": strDesc("YYYYMMDD"), "actions": map[string]any{"type": "array", "items": object(map[string]any{"action": str(), "taps": integer(""), "cards": integer("distinct cards")})}}),
		"Attendance": object(map[string]any{"app": str(), "class": integer(""), "date": strDesc("YYYYMMDD"), "late_after": strDesc("HHMMSS: a first check-in after it is late"),
			"school_day": map[string]any{"type": "boolean", "description": "false: not a school day of the school's calendar (a weekend, a holiday): nobody absent or late"}, "present": integer("pupils present"), "late": integer("pupils late"), "absent": integer("pupils absent"), "pupils": map[string]any{"type": "array", "items": object(map[string]any{"issuer": str(), "asn": str(),
				"presence": strDesc("present, late, absent, or no_school (no check-in on a day that is not a school day)"), "first_check_in": strDesc("HHMMSS; empty for none"), "last_check_out": strDesc("HHMMSS; empty for none"), "taps": integer("the day's check-ins and check-outs")})}}),
		"AppEvents": object(map[string]any{"events": map[string]any{"type": "array", "items": object(map[string]any{"id": integer("the outbox ID: the after of the next page"), "type": strDesc("card.lost, card.found, card.replaced, campus.check_in or campus.check_out"),
			"idempotency_key": str(), "body": map[string]any{"type": "object", "description": "what the webhook posts"}, "delivered_at": strDesc("empty until the webhook took it"),
			"attempts": integer("webhook attempts"), "failed": boolean()})}, "next": integer("the after of the next page; absent on the last")}, "next"),
		"GateVersions": object(map[string]any{"versions": map[string]any{"type": "array", "items": object(map[string]any{"seq": integer("the change's number: the after of the next page"), "issuer": str(), "asn": str(),
			"version": integer("the least entitlement file version the gate accepts of the card")})}, "more": boolean()}),
		"EntitlementGrant": object(map[string]any{"valid_from": strDesc("YYYYMMDD"), "valid_to": strDesc("YYYYMMDD"), "class": integer("0 to 65535"), "limit": integer("0 to 65535")}),
		"EntitlementCheck": object(map[string]any{"allowed": map[string]any{"type": "boolean"}, "reason": strDesc("allowed, wrong_application, expired, blacklisted or venue_full"), "action": str(), "date": strDesc("YYYYMMDD")}),
		"Calendar": object(map[string]any{"app": strDesc("in an answer"), "holidays": map[string]any{"type": "array", "items": strDesc("YYYYMMDD, a weekday")},
			"make_up_days": map[string]any{"type": "array", "items": strDesc("YYYYMMDD, a Saturday or Sunday")}}, "app"),
		"CanteenLimit": object(map[string]any{"limit_fen": integer("0 (none) to 65535 fen a day")}),
		"Periods": object(map[string]any{"app": strDesc("in an answer"), "periods": map[string]any{"type": "array", "items": object(map[string]any{"start": strDesc("HHMMSS, included"),
			"end": strDesc("HHMMSS, not included; 240000 for midnight"), "capacity": integer("admissions, 1 to 1000000")})}}, "app"),
		"InteropFile":       map[string]any{"type": "string", "description": "the CCIC1 file itself (docs/interop.md)"},
		"InteropFileHeader": interopFileSchema,
		"InteropFiles":      object(map[string]any{"files": map[string]any{"type": "array", "items": interopFileSchema}, "next_after": strDesc("the after of the next page; absent on the last")}, "next_after"),
		"InteropRecords": object(map[string]any{"file": str(), "records": map[string]any{"type": "array", "items": object(map[string]any{"seq": integer(""), "issuer": str(), "asn": str(),
			"counter": integer(""), "amount_fen": integer("fen"), "acquirer": strDesc("our operator's party (OUT), the acquiring city's institution (INC)"),
			"state": strDesc("pending, accepted or rejected"), "reason": str(), "answered_by": strDesc("the answer file that decided it; absent while pending"),
			"grey_pos": integer("an OUT file's G line (a grey record confirmed on its balance): the grey record's journal position; absent for every other record")}, "answered_by", "grey_pos")},
			"next_after": integer("the after of the next page; absent on the last")}, "next_after"),
		"InteropCities": object(map[string]any{"day": strDesc("YYYY-MM-DD"), "cities": map[string]any{"type": "array", "items": object(map[string]any{"city": strDesc("4 hex digits"),
			"institution": str(), "name": str(), "announced": strDesc("YYYY-MM-DD"), "effective": strDesc("YYYY-MM-DD: in force from")})}}),
		"InteropImported": object(map[string]any{"file": interopFileSchema, "already": boolean(), "accepted": totalsSchema, "rejected": totalsSchema,
			"answer": strDesc("our answer's file ID (an INC file's); \"\" for none")}),
		"BankStatement": map[string]any{"type": "string", "description": "the statement file itself: ISO 20022 camt.053 (application/xml) or the CSV form (text/csv) of recon/README.md"},
		"Imported": object(map[string]any{"statement": str(), "sha256": strDesc("the file's SHA-256, hex"), "replayed": boolean(), "movements": integer("the statement's movements"),
			"matched": integer("matches made"), "mismatched": integer("mismatches made")}),
		"Finding": object(map[string]any{"id": str(), "state": strDesc("matched, mismatched, unmatched_instruction (a payment, or a party's pay-in, expected) or unmatched_movement"),
			"direction": strDesc("DBIT: payments the collector makes (settlement instructions); CRDT: pay-ins the parties owing make to it"), "open": boolean(),
			"since": strDesc("YYYY-MM-DD: the earliest due or booking day of its parts"), "age_days": integer("days since"), "instructed_fen": integer("what was expected, payments less pay-ins, fen"),
			"bank_fen": integer("what the bank moved, debits less credits, fen"), "difference_fen": integer("bank_fen - instructed_fen"),
			"end_to_end_ids": map[string]any{"type": "array", "items": str()}, "parties": map[string]any{"type": "array", "items": str()},
			"movements": map[string]any{"type": "array", "items": strDesc("STATEMENT#SEQ and the bank's reference")}, "how": strDesc("end_to_end_id, reference or cycle"),
			"statement": str(), "decision": strDesc("corrected, accepted, not_ours or written_off"), "resolved_by": str(), "service_point": str(), "note": str(), "resolved_at": str()},
			"how", "statement", "decision", "resolved_by", "service_point", "note", "resolved_at"),
		"Findings":     object(map[string]any{"findings": arrayOf("Finding"), "next_after": strDesc("the after of the next page; absent on the last")}, "next_after"),
		"Resolution":   object(map[string]any{"decision": strDesc("corrected, accepted, not_ours (a movement's) or written_off"), "note": strDesc("why, 1 to 500 characters")}),
		"RefundAnswer": object(merge(money, map[string]any{"quote": object(quote, "fee_rule"), "approval": ref("Approval")}), "new_card", "approval"),
		"TopUpPay":     object(merge(map[string]any{"key": strDesc("idempotency key"), "amount_fen": integer("fen, more than 0 and at most one load")}, channel("payer"))),
		"TopUp":        object(topUp, "settled_at", "claim"),
		"TopUpList":    arrayOf("TopUp"),
		"TopUpAnswer":  object(map[string]any{"topup": ref("TopUp"), "replayed": boolean()}),
		"TopUpClaim":   object(merge(loadSession, map[string]any{"mac1": strDesc("the card's MAC1, 8 hex digits")})),
		"KioskTopUps":  map[string]any{"type": "array", "items": object(map[string]any{"id": str(), "amount_fen": integer("fen: the claim's load"), "claim_by": str()})},

		// Our interconnection cases (interopcases.go).
		"InteropCaseRaise": object(map[string]any{"ref": strDesc("the case's reference and idempotency key: 1 to 64 printable ASCII characters other than |"),
			"type": strDesc("ERR (error) or DSP (dispute: our card's record of an INC file only)"), "ref_file": strDesc("the OUT or INC file of the record"),
			"ref_seq": integer("the record's seq in it"), "direction": strDesc("ERR: C (the card's issuer owes the acquirer more) or D (the acquirer pays back); DSP: \"\""),
			"amount_fen": integer("fen, more than 0 (a dispute: at most the record's)"), "reason": strDesc("a reason's name (docs/interop.md): amount, not_received, cardholder, ..."),
			"note": strDesc("at most 256 bytes")}),
		"InteropCase":       interopCaseSchema,
		"InteropCaseRaised": object(merge(interopCaseProps, map[string]any{"already": boolean()}), "direction", "answer", "answered_by"),
		"InteropCases":      object(map[string]any{"day": strDesc("YYYY-MM-DD"), "type": str(), "file": strDesc("our file of them"), "cases": arrayOf("InteropCase")}),

		// The clearing parameters (clearingparams.go).
		"FeeVersions": object(map[string]any{"versions": map[string]any{"type": "array", "items": object(map[string]any{"party": str(), "effective": strDesc("YYYY-MM-DD"),
			"rules": map[string]any{"type": "array", "items": object(map[string]any{"name": str(), "products": map[string]any{"type": "array", "items": integer("")},
				"card_types": map[string]any{"type": "array", "items": integer("")}, "channels": map[string]any{"type": "array", "items": strDesc("a terminal type")},
				"rate_ppm": integer("parts per million of the amount"), "fixed_fen": integer("fen a record"), "min_fen": integer("fen"), "max_fen": integer("fen; 0 for no cap")})}})},
			"more": boolean()}),
		"ConcessionVersions": object(map[string]any{"versions": map[string]any{"type": "array", "items": object(map[string]any{"funder": strDesc("a registered funder party"), "effective": strDesc("YYYY-MM-DD"),
			"shares": map[string]any{"type": "array", "items": object(map[string]any{"kind": strDesc("the kind of discount"), "rider_category": strDesc("0 to 255, or * for any"),
				"operator": strDesc("\"\" for every operator"), "share_ppm": integer("parts per million of the discount")})}})},
			"more": boolean()}),
		"CapVersions": object(map[string]any{"versions": map[string]any{"type": "array", "items": object(map[string]any{"party": str(), "effective": strDesc("YYYY-MM-DD"), "cap_fen": integer("fen")})},
			"more": boolean()}),
	}
}

var wildcardRe = regexp.MustCompile(`\{([a-z_]+)\}`)

// openAPI builds the document from the routes and their operations.
func (s *Server) openAPI() map[string]any {
	paths := map[string]any{}
	for _, rt := range s.routes() {
		method, path, _ := strings.Cut(rt.pattern, " ")
		op, ok := operations[rt.pattern]
		if !ok {
			op = operation{summary: "(undocumented)", response: "Object"}
		}
		status := op.status
		if status == "" {
			status = "200"
		}
		content := "application/json"
		if op.response == "Text" {
			content = "text/plain"
		}
		o := map[string]any{
			"summary":     op.summary,
			"operationId": strings.ToLower(method) + strings.NewReplacer("/", "_", "{", "", "}", "", ".", "_").Replace(path),
			"responses": map[string]any{
				status:    map[string]any{"description": "done", "content": map[string]any{content: map[string]any{"schema": ref(op.response)}}},
				"default": map[string]any{"description": "an error: 4xx fix the request, 503 retry after Retry-After", "content": map[string]any{"application/json": map[string]any{"schema": ref("Error")}}},
			},
		}
		if op.request != "" {
			media := op.requestMedia
			if media == "" {
				media = "application/json"
			}
			o["requestBody"] = map[string]any{"required": true, "content": map[string]any{media: map[string]any{"schema": ref(op.request)}}}
		}
		var params []any
		for _, m := range wildcardRe.FindAllStringSubmatch(path, -1) {
			params = append(params, map[string]any{"name": m[1], "in": "path", "required": true, "schema": str()})
		}
		if params != nil {
			o["parameters"] = params
		}
		switch {
		case rt.terminal:
			o["security"] = []any{map[string]any{"terminal": []any{}}}
		case rt.holder:
			o["security"] = []any{map[string]any{"cardholder": []any{}}}
		case rt.app:
			o["security"] = []any{map[string]any{"application": []any{}}}
		case rt.role != 0:
			o["security"] = []any{map[string]any{"staff": []any{}}}
			o["x-citycard-role"] = rt.role.String()
		default:
			o["security"] = []any{}
		}
		item, _ := paths[path].(map[string]any)
		if item == nil {
			item = map[string]any{}
			paths[path] = item
		}
		item[strings.ToLower(method)] = o
	}
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{"title": "citycard back office", "version": "1",
			"description": "Answers are JSON with snake_case fields, identifiers as hex strings, amounts in fen (fields ending _fen). Bodies are strict: every field required, spelled exactly, once."},
		"paths": paths,
		"components": map[string]any{
			"schemas": schemas(),
			"securitySchemes": map[string]any{
				"terminal":    map[string]any{"type": "http", "scheme": "bearer", "description": "a terminal's API token (citycard registry credential); only for its own {terminal}"},
				"cardholder":  map[string]any{"type": "http", "scheme": "bearer", "description": "a cardholder's session token from POST /v1/self/login; their own cards only"},
				"application": map[string]any{"type": "http", "scheme": "bearer", "description": "an application's API token (citycard app add); only for its own {app}, its own cards"},
				"staff":       map[string]any{"type": "http", "scheme": "bearer", "description": "a staff session token from POST /v1/staff/login; x-citycard-role is the least role"},
			},
		},
	}
}

func (s *Server) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	b, err := json.MarshalIndent(s.openAPI(), "", "  ")
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeBody(w, http.StatusOK, b)
}

// interopFileSchema is an interconnection file's header (interopFileJSON).
var interopFileSchema = object(map[string]any{"id": str(), "type": strDesc("OUT, INC, ANS, ERR, DSP, CTY or BLK"), "direction": strDesc("sent or received"),
	"sha256": str(), "day": strDesc("YYYY-MM-DD"), "sender": str(), "receiver": str(), "refers": strDesc("an ANS file's: the file it answers"),
	"records": integer(""), "amount_fen": integer("the header's sum, fen"), "stored_at": strDesc("RFC 3339"), "taken_by": strDesc("the closed cycle that settled it; absent for none")},
	"refers", "stored_at", "taken_by")

// interopCaseProps are a case's fields (interop.CaseView).
var interopCaseProps = map[string]any{"ref": str(), "type": strDesc("ERR or DSP"), "day": strDesc("YYYY-MM-DD: the day raised"), "file": strDesc("our ERR or DSP file that sends it"),
	"ref_file": str(), "ref_seq": integer(""), "direction": strDesc("ERR: C or D; absent for DSP"), "amount_fen": integer("fen"), "reason": str(), "note": str(),
	"raised_by": str(), "raised_at": strDesc("RFC 3339"), "state": strDesc("pending, accepted or rejected"), "answer": strDesc("the answer's reason; absent while pending"),
	"answered_by": strDesc("the answer file that decided it; absent while pending")}

// interopCaseSchema is a case (interop.CaseView).
var interopCaseSchema = object(interopCaseProps, "direction", "answer", "answered_by")

// totalsSchema is a count and its amount (interop.Totals).
var totalsSchema = object(map[string]any{"count": integer(""), "amount_fen": integer("fen")})
