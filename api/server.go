// Package api is the back office's HTTP interface: terminals upload their
// batches and download blacklists and parameters; staff query rejections
// and card shadows. One routes table (routes.go) shows the whole API.
//
// Terminals authenticate with their API token (Authorization: Bearer),
// checked against the hash the registry keeps; a terminal may only act on
// its own ID, and only as its type may: the online load routes take a
// kiosk or a counter's reader, never a bus validator, a gate or a parking
// meter (registry.TerminalType.Loads; 403 before the request is read,
// and 503 from a TerminalAuth that cannot tell types: TerminalTypeAuth).
// Staff log in with their stored account (POST
// /v1/staff/login, cms.Staffing) and present the session token; their
// role (auditor, clerk, supervisor, admin: each including the ones
// before it) is the least each route asks (routes.go). A refund over
// RefundApprovalFen waits for a supervisor's approval, never the
// requester's own (cms.Approval), and so does every manual adjustment of
// a card's money (POST /v1/cards/{issuer}/{asn}/adjustments, adjust.go:
// asked 202, made 201 with the approval's ID). Cardholders log in to self service
// (/v1/self, cms.SelfService) with their document and password, and reach
// only their own cards. The OpenAPI 3.1 document of every route
// is served at /v1/openapi.json (openapi.go).
//
// # Errors
//
// Every error answer is {"error": message, "kind": the kind's name}, with
// the status of its kind from one table (kindStatus, errors.go):
//
//	kind              status  why
//	Invalid           422     the request breaks a rule: malformed JSON, a field, an
//	                          identifier, a header total; one status for every "fix the
//	                          request", so that a terminal has one rule: a batch answered
//	                          422 stays queued for a person, it is never resent as is
//	Crypto            422     a MAC or TAC that does not verify is a fact about what was sent
//	KeyMissing        422     a key version the back office does not hold is a fact about
//	                          the request, not a fault that passes with a retry
//	NotFound          404
//	Exists, Conflict  409
//	Insufficient      409     the card's state (its balance) forbids it now, not the
//	                          request's form
//	Unauthenticated   401     no token, or one that names nobody; with WWW-Authenticate
//	Permission        403     a caller known but not allowed: another terminal's ID, a role
//	                          too low
//	IO                503     a fault that passes (database busy, timeout); Retry-After: 1
//	Unavailable       503     the server refuses work now (closing, or its state could not
//	                          be rebuilt); Retry-After: 5
//	Other             500
//
// Every answer to a terminal is a promise (the terminal deletes what was
// answered), so a fault is never turned into a domain answer: a store that
// fails while a terminal authenticates is a 503, not a 403, and a 503
// refuses the batch whole. The detail of a 5xx is logged, not sent. The
// client (errorFromResponse) maps every status back to its kind, and keeps
// the Retry-After (RetryAfter).
//
// Client is the terminal's side: it implements terminal.Sender over HTTP.
package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/record"
)

// Limits on requests.
const (
	maxJSONBody   = acquire.MaxBatchRecords * 1024 // a JSON batch: about 700 bytes a record
	maxChangeBody = 4096                           // a blacklist change
	maxPageLimit  = 1000
)

// TerminalAuth authenticates a terminal's token (the registry implements
// it). Kind Permission (or Unauthenticated) for a wrong token or a
// terminal that may not upload; IO or Unavailable when it cannot tell
// (its store failed): the API answers 503, never a refusal.
type TerminalAuth interface {
	AuthenticateTerminal(ctx context.Context, id citycard.TerminalID, token string) error
}

// Role is what a member of staff may do: card management's roles
// (cms.Role), each including the ones before it.
type Role = cms.Role

// The roles.
const (
	RoleAuditor    = cms.RoleAuditor    // read everything, change nothing
	RoleClerk      = cms.RoleClerk      // also serve cardholders, resubmit rejections, change the blacklist
	RoleSupervisor = cms.RoleSupervisor // also approve what needs a second person
	RoleAdmin      = cms.RoleAdmin      // also manage staff
)

// Staff is an authenticated member of staff and their service point.
type Staff struct {
	Name         string
	Role         Role
	ServicePoint string
	PointType    cms.PointType // 0 for StaticStaff's, at no point
}

// member is st as card management's rules on staff take them
// (cms.StaffMember.MayServe, MayRead, Staffing.GateRefund).
func (st Staff) member() *cms.StaffMember {
	return &cms.StaffMember{Name: st.Name, Role: st.Role, ServicePoint: st.actor().ServicePoint, PointType: st.PointType}
}

// actor is st as card management's audit log names them; a member of
// staff without a service point (StaticStaff's) is at "api".
func (st Staff) actor() cms.Actor {
	if st.ServicePoint == "" {
		return cms.Actor{Who: st.Name, ServicePoint: "api"}
	}
	return cms.Actor{Who: st.Name, ServicePoint: st.ServicePoint}
}

// StaffAuth authenticates staff tokens. Kind Unauthenticated for a token
// that names nobody; IO or Unavailable when it cannot tell.
type StaffAuth interface {
	AuthenticateStaff(ctx context.Context, token string) (Staff, error)
}

// StaticStaff is a StaffAuth over a fixed set of tokens, kept hashed: for
// the simulator and tests, where no staff accounts are stored
// (StoredStaff serves those).
type StaticStaff struct {
	mu    sync.RWMutex
	staff map[[32]byte]Staff
}

// Add lets token act as s.
func (st *StaticStaff) Add(token string, s Staff) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.staff == nil {
		st.staff = map[[32]byte]Staff{}
	}
	st.staff[sha256.Sum256([]byte(token))] = s
}

// AuthenticateStaff implements StaffAuth: kind Unauthenticated for an
// unknown token.
func (st *StaticStaff) AuthenticateStaff(_ context.Context, token string) (Staff, error) {
	h := sha256.Sum256([]byte(token))
	st.mu.RLock()
	defer st.mu.RUnlock()
	for k, s := range st.staff {
		if subtle.ConstantTimeCompare(k[:], h[:]) == 1 {
			return s, nil
		}
	}
	return Staff{}, citycard.E("api.StaticStaff", citycard.Unauthenticated, "unknown staff token")
}

// Rejections queries the rejection journal.
type Rejections interface {
	QueryRejections(ctx context.Context, f acquire.RejectionFilter) ([]acquire.PositionedRejection, error)
}

// Batches reads a committed batch's journaled records (acquire.Journal
// has it).
type Batches interface {
	BatchRecords(ctx context.Context, terminal citycard.TerminalID, id string, fn func(e *acquire.Journaled) error) error
}

// Parameters are what a terminal downloads besides the blacklist
// (answered as parametersJSON).
type Parameters struct {
	FareTableVersion string
	KeyVersions      []uint8 // card key versions accepted, newest first
	RecordKeyVersion uint8
	BlacklistVersion int64 // set by the server from the blacklist
	UploadBatchMax   int   // records in one batch
}

// Server serves the API.
type Server struct {
	Acquirer   *acquire.Acquirer
	Terminals  TerminalAuth
	Staff      StaffAuth
	Blacklist  *blacklist.List
	Rejections Rejections
	Batches    Batches
	Params     func() Parameters
	Replays    *Replays // the fare what-if; nil: none
	// Cards is card management (the card and cardholder routes); nil:
	// those routes answer 503.
	Cards *cms.Manager
	// Staffing is the stored staff accounts (login, the staff routes,
	// approvals); nil: those routes answer 503.
	Staffing *cms.Staffing
	// SelfService is the cardholders' own access (the /v1/self routes);
	// nil: those routes refuse every token.
	SelfService *cms.SelfService
	// Balances gives a card's balance for a refund; nil: ShadowBalances
	// over the Acquirer, Cards and Elsewhere.
	Balances Balances
	// Elsewhere gives our cards' purchases in other cities, which
	// ShadowBalances counts (InteropElsewhere over the interconnection's
	// store); nil: none.
	Elsewhere Elsewhere
	// RefundApprovalFen is the refund payout over which a supervisor's
	// approval is needed; 0: DefaultRefundApprovalFen.
	RefundApprovalFen int64
	// Loads is the online load host (the terminals' load routes); nil:
	// those routes answer 503.
	Loads *cms.LoadHost
	// TopUps is remote top-up over Loads (the top-up routes); nil: those
	// routes answer 503.
	TopUps *cms.TopUps
	// Clearing is the clearing cycles (the /v1/clearing routes); nil:
	// those routes answer 503.
	Clearing Clearing
	// ClearingParams are the clearing parameters stored (the read-only
	// /v1/clearing/params routes, clearingparams.go); nil: those routes
	// answer 503.
	ClearingParams ClearingParams
	// Recon is the reconciliation of the bank's statements (the
	// /v1/clearing/recon routes); nil: those routes answer 503.
	Recon Reconciliation
	// Interop is the interconnection's files (the /v1/clearing/interop
	// routes, interop.go); nil: those routes answer 503.
	Interop Interconnection
	// Now is the server's clock (the day the interconnection's
	// listings are in force); nil: time.Now.
	Now func() time.Time
	// Apps is the application systems (the /v1/apps routes); nil: those
	// routes refuse every token.
	Apps *apps.Office
	// Gates is the terminals' registrations, whose operator says which
	// application's gate versions a gate may download (apps.go); nil:
	// that route answers 503.
	Gates  acquire.Terminals
	Logger *slog.Logger
	// MaxUploads bounds the uploads read and decided at once; one more is
	// refused before its body is read (503, Retry-After), so a burst of
	// terminals costs bounded memory. 0: DefaultMaxUploads.
	MaxUploads int

	uploads         chan struct{} // a slot per upload in progress
	interopBytesMax int64         // tests: a smaller InteropImportBytesMax
}

// DefaultMaxUploads is the default of Server.MaxUploads: 64 batches of at
// most 10,000 records, about 64 MiB of bodies and their verification.
const DefaultMaxUploads = 64

// Handler returns the server's handler.
func (s *Server) Handler() http.Handler {
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.MaxUploads <= 0 {
		s.MaxUploads = DefaultMaxUploads
	}
	s.uploads = make(chan struct{}, s.MaxUploads)
	mux := http.NewServeMux()
	for _, rt := range s.routes() {
		mux.HandleFunc(rt.pattern, rt.handler)
	}
	return mux
}

// bearer returns the request's bearer token, or "". The scheme is
// case-insensitive (RFC 9110, section 11.1).
func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// authKind is the kind an authenticator's error keeps at the boundary: a
// fault stays a fault (IO, Unavailable: 503, retry), a refusal stays a
// refusal; NotFound, from an authenticator that says a terminal or token
// is unknown, becomes who, so that the API never tells which IDs exist.
func authKind(err error, who citycard.Kind) citycard.Kind {
	if k := citycard.KindOf(err); k != citycard.NotFound {
		return k
	}
	return who
}

// terminal authenticates the request as the terminal of its {terminal}:
// kind Unauthenticated without a token, NotFound for a malformed ID, and
// the kind of TerminalAuth's error otherwise (see authKind).
func (s *Server) terminal(r *http.Request) (citycard.TerminalID, error) {
	return s.authenticateTerminal(r, s.Terminals.AuthenticateTerminal)
}

// authenticateTerminal is Server.terminal with its authentication auth.
func (s *Server) authenticateTerminal(r *http.Request, auth func(ctx context.Context, id citycard.TerminalID, token string) error) (citycard.TerminalID, error) {
	const op = "api.terminal"
	var id citycard.TerminalID
	tok := bearer(r)
	if tok == "" {
		return id, citycard.E(op, citycard.Unauthenticated, "no terminal token (Authorization: Bearer)")
	}
	id, err := citycard.ParseTerminalID(r.PathValue("terminal"))
	if err != nil {
		return id, citycard.Wrap(op, citycard.NotFound, err)
	}
	if err := auth(r.Context(), id, tok); err != nil {
		return id, citycard.Wrap(op, authKind(err, citycard.Permission), err)
	}
	return id, nil
}

// staff authenticates the request as staff with at least role: kind
// Unauthenticated without a token or for one that names nobody, Permission
// for a role too low, and the kind of StaffAuth's error otherwise (see
// authKind).
func (s *Server) staff(r *http.Request, role Role) (Staff, error) {
	const op = "api.staff"
	tok := bearer(r)
	if tok == "" {
		return Staff{}, citycard.E(op, citycard.Unauthenticated, "no staff token (Authorization: Bearer)")
	}
	if s.Staff == nil {
		return Staff{}, citycard.E(op, citycard.Unauthenticated, "no staff access configured")
	}
	st, err := s.Staff.AuthenticateStaff(r.Context(), tok)
	if err != nil {
		return st, citycard.Wrap(op, authKind(err, citycard.Unauthenticated), err)
	}
	if st.Role < role {
		return st, citycard.E(op, citycard.Permission, "%s may not do this", st.Name)
	}
	return st, nil
}

// Headers of a binary upload.
const (
	HeaderBatchID = "X-Batch-Id"
	HeaderCount   = "X-Record-Count"
	HeaderAmount  = "X-Amount-Fen"
)

func (s *Server) handleUpload(w http.ResponseWriter, r *http.Request, id citycard.TerminalID) {
	const op = "api.upload"
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		s.fail(w, r, citycard.E(op, citycard.Unavailable, "busy: %d uploads in progress, try again later", s.MaxUploads))
		return
	}
	b := acquire.Batch{Terminal: id}
	mt, err := mediaType(r, mediaBinary, mediaJSON)
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	switch mt {
	case mediaBinary:
		b.ID = r.Header.Get(HeaderBatchID)
		if b.Count, err = strconv.Atoi(r.Header.Get(HeaderCount)); err != nil {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "header %s: %v", HeaderCount, err))
			return
		}
		if b.AmountFen, err = strconv.ParseInt(r.Header.Get(HeaderAmount), 10, 64); err != nil {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "header %s: %v", HeaderAmount, err))
			return
		}
		if b.Count < 0 || b.Count > acquire.MaxBatchRecords {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "header %s: %d records, at most %d", HeaderCount, b.Count, acquire.MaxBatchRecords))
			return
		}
		// Read what the header announces into one buffer of that size
		// and a byte more, to tell a longer body (a shorter one is the
		// acquirer's to refuse, naming the record cut).
		// (The reader stops at the size: ReadFull never fills body.)
		body := make([]byte, b.Count*record.Size+1)
		n, err := io.ReadFull(http.MaxBytesReader(w, r.Body, int64(b.Count*record.Size)), body)
		if err != io.ErrUnexpectedEOF && err != io.EOF {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "body longer than the %d records the header announces: %v", b.Count, err))
			return
		}
		b.Body = body[:n]
	case mediaJSON:
		u, err := decodeBatchJSON(http.MaxBytesReader(w, r.Body, maxJSONBody))
		if err != nil {
			s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
			return
		}
		b.ID, b.Count, b.AmountFen = u.BatchID, u.Count, u.AmountFen
		b.Body = make([]byte, 0, len(u.Records)*record.Size)
		for i, raw := range u.Records {
			rec, err := record.DecodeJSON(raw)
			if err != nil {
				s.fail(w, r, citycard.E(op, citycard.Invalid, "records[%d]: %v", i, err))
				return
			}
			b.Body = rec.AppendBinary(b.Body)
		}
	}
	start := time.Now()
	ans, err := s.Acquirer.Submit(r.Context(), b)
	if err != nil {
		if statusOf(citycard.KindOf(err)).code < 500 { // fail logs the others
			s.Logger.Warn("batch refused", "terminal", id.String(), "batch", b.ID, "err", err)
		}
		s.fail(w, r, err)
		return
	}
	// Batches with something to look at are logged at Info, the others at
	// Debug: at 100 batches a second the log is for what needs a person.
	level := slog.LevelDebug
	if ans.Flagged+ans.Rejected > 0 {
		level = slog.LevelInfo
	}
	s.Logger.Log(r.Context(), level, "batch", "terminal", id.String(), "batch", b.ID, "records", len(ans.Records),
		"accepted", ans.Accepted, "flagged", ans.Flagged, "duplicates", ans.Duplicates, "rejected", ans.Rejected,
		"repeat", ans.Repeat, "ms", time.Since(start).Milliseconds())
	s.reply(w, r, http.StatusOK, newAnswerJSON(ans))
}

// handleMetrics serves the acquisition counters in the Prometheus text
// format: counters only, no card or terminal data, so it needs no token.
func (s *Server) handleMetrics(w http.ResponseWriter, _ *http.Request) {
	st := s.Acquirer.Stats()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	metric := func(name, kind, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, kind, name, v)
	}
	metric("citycard_acquire_batches_total", "counter", "Upload batches committed.", st.Batches)
	metric("citycard_acquire_commits_total", "counter", "Journal transactions (group commits).", st.Commits)
	fmt.Fprintf(w, "# HELP citycard_acquire_records_total Records answered, by verdict.\n# TYPE citycard_acquire_records_total counter\n")
	for _, v := range []struct {
		verdict string
		n       int64
	}{{"accepted", st.Accepted}, {"flagged", st.Flagged}, {"duplicate", st.Duplicates}, {"rejected", st.Rejected}} {
		fmt.Fprintf(w, "citycard_acquire_records_total{verdict=%q} %d\n", v.verdict, v.n)
	}
	metric("citycard_acquire_cards", "gauge", "Cards with a shadow.", st.Cards)
	metric("citycard_acquire_replayed_records", "gauge", "Journaled records replayed at start.", st.Replayed)
	metric("citycard_acquire_replay_seconds", "gauge", "Time to load the state at start.", st.ReplayTime.Seconds())
	metric("citycard_blacklist_version", "gauge", "Version of the blacklist.", s.Blacklist.Version())
}

func (s *Server) handleBlacklist(w http.ResponseWriter, r *http.Request, _ citycard.TerminalID) {
	d, err := s.blacklistPage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, newDeltaJSON(d, false))
}

// blacklistPage reads a page of the blacklist as the query asks: since
// (a version, 0: the whole list), after_issuer and after_asn (the card a
// page of the whole list follows), limit (1 to blacklist.MaxDeltaItems,
// the default). Kind Invalid for a query that does not parse.
func (s *Server) blacklistPage(r *http.Request) (blacklist.Delta, error) {
	const op = "api.blacklist"
	q := r.URL.Query()
	var since int64
	if v := q.Get("since"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return blacklist.Delta{}, citycard.E(op, citycard.Invalid, "since=%q: %v", v, err)
		}
		since = n
	}
	limit := blacklist.MaxDeltaItems
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return blacklist.Delta{}, citycard.E(op, citycard.Invalid, "limit=%q: %v", v, err)
		}
		limit = n
	}
	var after *blacklist.Card
	if ai, aa := q.Get("after_issuer"), q.Get("after_asn"); ai != "" || aa != "" {
		c, err := parseCard(ai, aa)
		if err != nil {
			return blacklist.Delta{}, citycard.E(op, citycard.Invalid, "after_issuer=%q, after_asn=%q: %v", ai, aa, err)
		}
		after = &c
	}
	return s.Blacklist.Page(since, after, limit)
}

func (s *Server) handleParameters(w http.ResponseWriter, r *http.Request, _ citycard.TerminalID) {
	p := s.Params()
	p.BlacklistVersion = s.Blacklist.Version()
	j := newParametersJSON(p)
	if s.Cards != nil {
		cs := s.Cards.Concessions()
		for _, code := range slices.Sorted(maps.Keys(cs)) {
			j.Concessions = append(j.Concessions, concessionJSON{Category: int(code), Lapsed: int(cs[code])})
		}
	}
	if s.Interop != nil {
		own, cs, err := s.Interop.TerminalCities(r.Context())
		if err != nil {
			s.fail(w, r, err)
			return
		}
		j.Cities = newCitiesJSON(own, cs)
	}
	s.reply(w, r, http.StatusOK, j)
}

func (s *Server) handleRejections(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.rejections"
	q := r.URL.Query()
	f := acquire.RejectionFilter{Limit: 100, Reason: q.Get("reason")}
	if t := q.Get("terminal"); t != "" {
		id, err := citycard.ParseTerminalID(t)
		if err != nil {
			s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
			return
		}
		f.Terminal = id
	}
	for name, dst := range map[string]*int64{"after": &f.After} {
		if v := q.Get(name); v != "" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				s.fail(w, r, citycard.E(op, citycard.Invalid, "%s=%q: %v", name, v, err))
				return
			}
			*dst = n
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxPageLimit {
			s.fail(w, r, citycard.E(op, citycard.Invalid, "limit=%q: want 1 to %d", v, maxPageLimit))
			return
		}
		f.Limit = n
	}
	rs, err := s.Rejections.QueryRejections(r.Context(), f)
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
		return
	}
	out := make([]rejectionJSON, len(rs))
	for i := range rs {
		out[i] = newRejectionJSON(rs[i])
		ans, ok, err := s.Acquirer.Resubmission(r.Context(), &rs[i])
		if err != nil {
			s.fail(w, r, citycard.Wrap(op, citycard.Other, err))
			return
		}
		if ok {
			out[i].Resubmission = newResubmissionJSON(ans)
		}
	}
	s.reply(w, r, http.StatusOK, out)
}

// handleResubmit runs the acquisition rules again on one kept rejection,
// once (acquire.Acquirer.Resubmit): the answer is the resubmission's
// batch, which keeps who asked; asking again answers the first.
func (s *Server) handleResubmit(w http.ResponseWriter, r *http.Request, st Staff) {
	const op = "api.resubmit"
	pos, err := strconv.ParseInt(r.PathValue("pos"), 10, 64)
	if err != nil {
		s.fail(w, r, citycard.E(op, citycard.NotFound, "no rejection %q", r.PathValue("pos")))
		return
	}
	rej, err := s.Acquirer.Rejection(r.Context(), pos)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	ans, err := s.Acquirer.Resubmit(r.Context(), rej, st.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("rejection resubmitted", "by", st.Name, "rejection", pos, "status", ans.Records[0].Status, "repeat", ans.Repeat)
	s.reply(w, r, http.StatusOK, newResubmittedJSON(ans))
}

// handleBatch is the drill-down from a ledger entry (its source names the
// batch) to the records behind it.
func (s *Server) handleBatch(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.batch"
	tid, err := citycard.ParseTerminalID(r.PathValue("terminal"))
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	id := r.PathValue("batch")
	var out []batchEntryJSON
	err = s.Batches.BatchRecords(r.Context(), tid, id, func(e *acquire.Journaled) error {
		rec, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return citycard.E(op, citycard.Other, "journaled record %d: %w", e.Pos, err) // the journal holds only decoded records
		}
		flags := e.Flags.Names()
		if flags == nil {
			flags = []string{}
		}
		out = append(out, batchEntryJSON{Pos: e.Pos, Class: e.Class.String(), Flags: flags, Record: rec,
			PendingIssuer: e.Outcome == acquire.OutcomePendingIssuer})
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if out == nil {
		s.fail(w, r, citycard.E(op, citycard.NotFound, "no journaled record of batch %q of terminal %v", id, tid))
		return
	}
	s.reply(w, r, http.StatusOK, out)
}

func (s *Server) handleShadow(w http.ResponseWriter, r *http.Request, _ Staff) {
	const op = "api.shadow"
	issuer, err := citycard.ParseIssuerCode(r.PathValue("issuer"))
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	asn, err := citycard.ParseASN(r.PathValue("asn"))
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	sh, ok := s.Acquirer.Shadow(issuer, asn)
	if !ok {
		s.fail(w, r, citycard.E(op, citycard.NotFound, "no record of card %v/%v", issuer, asn))
		return
	}
	s.reply(w, r, http.StatusOK, newShadowJSON(issuer, asn, sh))
}

// blacklistChange is a staff request to list or delist a card:
// {"issuer", "asn", "listed", "reason"}, all required, read strictly (see
// readObject).
type blacklistChange struct {
	Issuer string
	ASN    string
	Listed bool
	Reason string
}

func (s *Server) handleBlacklistSet(w http.ResponseWriter, r *http.Request, st Staff) {
	const op = "api.blacklistSet"
	if _, err := mediaType(r, mediaJSON); err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	var c blacklistChange
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxChangeBody))
	dec.UseNumber()
	err := readObject(dec, []field{
		{"issuer", readString(&c.Issuer)},
		{"asn", readString(&c.ASN)},
		{"listed", readBool(&c.Listed)},
		{"reason", readString(&c.Reason)},
	})
	if err != nil {
		s.fail(w, r, citycard.E(op, citycard.Invalid, "blacklist change: %w", err))
		return
	}
	issuer, err := citycard.ParseIssuerCode(c.Issuer)
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	asn, err := citycard.ParseASN(c.ASN)
	if err != nil {
		s.fail(w, r, citycard.Wrap(op, citycard.Invalid, err))
		return
	}
	v, err := s.Blacklist.Set(r.Context(), blacklist.Card{Issuer: issuer, ASN: asn}, c.Listed, c.Reason, st.Name)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.Logger.Info("blacklist changed", "by", st.Name, "issuer", issuer.String(), "asn", asn.String(), "listed", c.Listed, "version", v)
	s.reply(w, r, http.StatusOK, versionJSON{Version: v})
}

func (s *Server) handleBlacklistList(w http.ResponseWriter, r *http.Request, _ Staff) {
	d, err := s.blacklistPage(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.reply(w, r, http.StatusOK, newDeltaJSON(d, true))
}

// handleHealth answers 200 {"status":"ok"} only while the acquirer takes
// batches, so that a load balancer sends terminals elsewhere when it does
// not; otherwise the status of the acquirer's error (503 for Unavailable,
// with Retry-After) and its reason. The reason is sent, unlike the detail
// of other 5xx: it is the server's own state, the operator needs it, and
// it holds no card, terminal or key data.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	err := s.Acquirer.Health()
	if err == nil {
		s.reply(w, r, http.StatusOK, healthJSON{Status: "ok"})
		return
	}
	a := statusOf(citycard.KindOf(err))
	if a.retryAfterS > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(a.retryAfterS))
	}
	s.Logger.Warn("api: unhealthy", "err", err)
	s.reply(w, r, a.code, healthJSON{Status: "unavailable", Reason: err.Error()})
}
