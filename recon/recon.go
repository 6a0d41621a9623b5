package recon

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/exchange"
)

// Limits of the reconciliation store's reads.
const (
	OpenMax     = 100000 // open instructions or movements one import matches against
	SnapshotMax = 200000 // instructions, movements, matches or resolutions one listing reads
	NoteLenMax  = 500    // a resolution's note
	PointLenMax = 64     // a service point's ID
	// LookbackDaysMax bounds Config.LookbackDays.
	LookbackDaysMax = 366
	// DefaultLookbackDays is how many days before a statement's first
	// booking day an import takes the closed cycles' instructions from.
	DefaultLookbackDays = 31
)

// The states of a finding beside a match's: an instruction or a movement
// nothing matched.
const (
	// OursUnmatched: a settlement instruction no movement paid (yet),
	// or a pay-in expected that no credit brought (a party that has not
	// paid).
	OursUnmatched State = iota + 3
	// BankUnmatched: a movement on the bank's statement that pays no
	// instruction and brings no pay-in expected.
	BankUnmatched
)

// stateNames are the names of every State, as reports show them.
var stateNames = map[State]string{Matched: "matched", Mismatched: "mismatched", OursUnmatched: "unmatched_instruction", BankUnmatched: "unmatched_movement"}

// String returns the state's name, as reports and the API show it.
func (s State) String() string {
	if n, ok := stateNames[s]; ok {
		return n
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Decision is how staff resolved an open finding.
type Decision uint8

// The decisions.
const (
	// Corrected: the difference is put right elsewhere (an adjustment in
	// a later cycle, a repayment, the payment made again); the note says
	// where.
	Corrected Decision = iota + 1
	// Accepted: the bank's figure stands (a charge taken from the
	// payment, a rounding of the bank's), as the note explains.
	Accepted
	// NotOurs: a movement that is no settlement (interest, a bank fee,
	// another payer's money): a movement's only.
	NotOurs
	// WrittenOff: the money will not be recovered.
	WrittenOff
)

var decisionNames = [...]string{Corrected: "corrected", Accepted: "accepted", NotOurs: "not_ours", WrittenOff: "written_off"}

func (d Decision) String() string {
	if int(d) < len(decisionNames) && decisionNames[d] != "" {
		return decisionNames[d]
	}
	return fmt.Sprintf("decision(%d)", uint8(d))
}

// ParseDecision parses a Decision's name. Kind Invalid.
func ParseDecision(s string) (Decision, error) {
	for d, n := range decisionNames {
		if n != "" && n == s {
			return Decision(d), nil
		}
	}
	return 0, citycard.E("recon.ParseDecision", citycard.Invalid, "decision %q: want corrected, accepted, not_ours or written_off", s)
}

// Resolution is staff's resolution of an open finding: who, where, why,
// and the decision. Once made it never changes.
type Resolution struct {
	Finding  string
	Decision Decision
	Note     string
	By       string // the member of staff
	Point    string // the service point they resolved it at
	At       time.Time
}

// Import is what a statement's import writes, in one transaction.
type Import struct {
	Statement *BankStatement
	By        string
	At        time.Time
	// Instructions are the closed cycles' instructions in the
	// statement's window, kept if not kept already (by EndToEndID: a
	// closed cycle's never change), before the open ones are read.
	Instructions []Instruction
	// OpenMax bounds the open instructions, and the open movements,
	// the import reads; 0 is the package's OpenMax.
	OpenMax int
}

// OpenLimit is imp.OpenMax, or OpenMax if that is 0.
func (imp *Import) OpenLimit() int {
	if imp.OpenMax > 0 {
		return imp.OpenMax
	}
	return OpenMax
}

// Open is what an import matches: the instructions and movements that
// no match took and no one resolved, the statement's own movements
// among them, with their IDs.
type Open struct {
	Instructions []Instruction // by EndToEndID
	Movements    []Movement    // by ID
}

// Imported says what an import did.
type Imported struct {
	Statement string
	SHA256    string
	Replayed  bool // the file was imported before: nothing changed
	Movements int
	Matches   []Match // the matches it made, with their IDs
}

// Snapshot is what the store holds, for listing: every instruction,
// movement, match and resolution.
type Snapshot struct {
	Instructions []Instruction // by EndToEndID, each with its Match
	Movements    []Movement    // by ID, each with its Match
	Matches      []Match       // by ID, with their instructions and movements
	Resolutions  []Resolution
}

// Store keeps the reconciliation: statements imported, the instructions
// of closed cycles, the movements, matches and resolutions. Nothing is
// ever removed; an instruction's or movement's match is set once;
// resolutions are appended, each with its audit record in card
// management's hash-chained audit log, in the same transaction.
type Store interface {
	// Import writes imp in one transaction: the statement (a file whose
	// SHA256 was imported is Replayed and changes nothing; another file
	// of a statement ID imported is Exists), its movements, the
	// instructions not kept yet; then it reads what is Open (Conflict past
	// imp.OpenLimit() of either) and writes the matches decide returns, each instruction and
	// movement taken once (Conflict if one was taken meanwhile), and the
	// audit record decide returns. An error of decide's rolls everything
	// back.
	Import(ctx context.Context, imp *Import, decide func(open *Open) ([]Match, *cms.AuditRecord, error)) (Imported, error)
	// Resolve writes r and its audit record a, in one transaction, if
	// r.Finding is still open: Conflict if it was resolved, or matched,
	// meanwhile; NotFound if there is no such finding.
	Resolve(ctx context.Context, r *Resolution, a *cms.AuditRecord) error
	// Snapshot returns everything kept, each list at most max (Conflict
	// past it).
	Snapshot(ctx context.Context, max int) (*Snapshot, error)
}

// Settlements gives the closed cycles' settlement instructions.
type Settlements interface {
	// Settlements returns the settlements of the cycles closed on the
	// days from through to (their instructions' due days, in the
	// calendar's zone), whatever the business day each cleared.
	Settlements(ctx context.Context, from, to clearing.Day) ([]*exchange.Settlement, error)
}

// Config is a reconciliation's policy.
type Config struct {
	// ToleranceDays: a movement matched by reference is booked at most
	// this many days from the instruction's due day (0 to
	// ToleranceDaysMax; DefaultToleranceDays when unset, -1 for 0).
	ToleranceDays int
	// LookbackDays: an import takes the instructions of the cycles closed
	// this many days before the statement's first booking day (1 to
	// LookbackDaysMax; DefaultLookbackDays when 0).
	LookbackDays int
	// Account is the collector's settlement account: a statement of
	// another is refused. "" takes any.
	Account string
	// Zone is the zone of the business days a finding's age counts in.
	Zone *time.Location
}

// Reconciler matches the bank's statements against the closed cycles'
// settlement instructions over its store.
type Reconciler struct {
	cfg         Config
	store       Store
	settlements Settlements
	now         func() time.Time
}

// New returns a reconciler over store, taking instructions from s, with
// clock now. Kind Invalid for a Config out of its bounds.
func New(cfg Config, store Store, s Settlements, now func() time.Time) (*Reconciler, error) {
	const op = "recon.New"
	switch {
	case cfg.ToleranceDays == 0:
		cfg.ToleranceDays = DefaultToleranceDays
	case cfg.ToleranceDays == -1:
		cfg.ToleranceDays = 0
	case cfg.ToleranceDays < 0 || cfg.ToleranceDays > ToleranceDaysMax:
		return nil, citycard.E(op, citycard.Invalid, "tolerance of %d days: want 0 to %d", cfg.ToleranceDays, ToleranceDaysMax)
	}
	if cfg.LookbackDays == 0 {
		cfg.LookbackDays = DefaultLookbackDays
	}
	if cfg.LookbackDays < 1 || cfg.LookbackDays > LookbackDaysMax {
		return nil, citycard.E(op, citycard.Invalid, "look-back of %d days: want 1 to %d", cfg.LookbackDays, LookbackDaysMax)
	}
	if cfg.Zone == nil {
		cfg.Zone = clearing.DefaultCalendar().Zone
	}
	return &Reconciler{cfg: cfg, store: store, settlements: s, now: now}, nil
}

// Import imports statement st, read from a file, by staff member by at
// service point point, and
// matches its movements (and those left open before) against the closed
// cycles' instructions left open: all in one transaction, so that a
// refused statement imports nothing. The same file twice is Replayed.
// Kind Invalid (a statement of another account, a bad name), Exists
// (another file of a statement ID imported), Conflict (the store's), and
// the kinds of Settlements.
func (r *Reconciler) Import(ctx context.Context, st *BankStatement, by, point string) (*Imported, error) {
	const op = "recon.Reconciler.Import"
	if err := checkWho(op, by, point); err != nil {
		return nil, err
	}
	if r.cfg.Account != "" && st.Account != r.cfg.Account {
		return nil, citycard.E(op, citycard.Invalid, "statement %s is of account %q: the collector's is %q", st.ID, st.Account, r.cfg.Account)
	}
	imp := &Import{Statement: st, By: by, At: r.now()}
	if len(st.Movements) > 0 {
		from, to := st.Movements[0].Booked, st.Movements[0].Booked
		for _, m := range st.Movements {
			from, to = min(from, m.Booked), max(to, m.Booked)
		}
		ss, err := r.settlements.Settlements(ctx, from-clearing.Day(r.cfg.LookbackDays+r.cfg.ToleranceDays), to)
		if err != nil {
			return nil, citycard.Wrap(op, citycard.Other, err)
		}
		for _, s := range ss {
			imp.Instructions = append(imp.Instructions, InstructionsOf(s)...)
		}
	}
	got, err := r.store.Import(ctx, imp, func(open *Open) ([]Match, *cms.AuditRecord, error) {
		ms := matching(open.Instructions, open.Movements, r.cfg.ToleranceDays)
		for i := range ms {
			ms[i].Statement = st.ID
		}
		done := Imported{Statement: st.ID, SHA256: st.SHA256, Movements: len(st.Movements), Matches: ms}
		after, err := json.Marshal(struct {
			ImportSummary
			Format  string `json:"format"`
			Account string `json:"account"`
		}{done.Summary(), st.Format.String(), st.Account})
		if err != nil {
			return nil, nil, err
		}
		return ms, &cms.AuditRecord{At: imp.At, Actor: by, ServicePoint: point, Subject: "recon:statement:" + st.ID, Action: "recon.import", After: string(after)}, nil
	})
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return &got, nil
}

// ImportSummary is what an import did, as the CLI and the API say it.
type ImportSummary struct {
	Statement  string `json:"statement"`
	SHA256     string `json:"sha256"`
	Replayed   bool   `json:"replayed"`
	Movements  int    `json:"movements"`
	Matched    int    `json:"matched"`
	Mismatched int    `json:"mismatched"`
}

// Summary returns what im did, its matches counted by state.
func (im *Imported) Summary() ImportSummary {
	s := ImportSummary{Statement: im.Statement, SHA256: im.SHA256, Replayed: im.Replayed, Movements: im.Movements}
	for _, m := range im.Matches {
		if m.State == Matched {
			s.Matched++
		} else {
			s.Mismatched++
		}
	}
	return s
}

// Finding is one line of the reconciliation: a match (matched or
// mismatched), or an instruction or a movement nothing matched. Those
// not matched stay open, with their age, until staff resolve them.
type Finding struct {
	// ID names it: match-N, bank-N (a movement), or the EndToEndId of an
	// instruction (a pay-in's reference).
	ID    string
	State State
	// Direction is that of its parts: Debit for payments made, Credit
	// for pay-ins (a match's are all of one).
	Direction Direction
	// Since is the earliest day of its parts (an instruction's due day,
	// a movement's booking day); AgeDays counts from it to the listing's
	// day.
	Since         clearing.Day
	AgeDays       int
	InstructedFen int64 // what the instructions asked: payments less pay-ins
	BankFen       int64 // what the bank moved: debits less credits
	EndToEndIDs   []string
	Parties       []string
	Movements     []string // STATEMENT#SEQ, with the bank's reference
	How           string
	Statement     string // the statement whose import made it ("" for an instruction)
	Resolution    *Resolution
}

// Open reports whether f awaits staff.
func (f *Finding) Open() bool { return f.State != Matched && f.Resolution == nil }

// DifferenceFen is what the bank moved less what was instructed.
func (f *Finding) DifferenceFen() int64 { return f.BankFen - f.InstructedFen }

// Findings returns the reconciliation's findings (only the open ones if
// open), oldest first, then by ID, aged as of today. Kinds of the
// store's Snapshot.
func (r *Reconciler) Findings(ctx context.Context, open bool) ([]Finding, error) {
	s, err := r.store.Snapshot(ctx, SnapshotMax)
	if err != nil {
		return nil, citycard.Wrap("recon.Reconciler.Findings", citycard.Other, err)
	}
	fs := findingsOf(s, r.today())
	if open {
		fs = slices.DeleteFunc(fs, func(f Finding) bool { return !f.Open() })
	}
	return fs, nil
}

// Finding returns the finding of ID id. Kind NotFound.
func (r *Reconciler) Finding(ctx context.Context, id string) (Finding, error) {
	fs, err := r.Findings(ctx, false)
	if err != nil {
		return Finding{}, err
	}
	for _, f := range fs {
		if f.ID == id {
			return f, nil
		}
	}
	return Finding{}, citycard.E("recon.Reconciler.Finding", citycard.NotFound, "no finding %q", clip(id))
}

func (r *Reconciler) today() clearing.Day {
	t := r.now().In(r.cfg.Zone)
	return clearing.DayOf(t.Year(), t.Month(), t.Day())
}

// MatchID returns the finding ID of match n; BankID that of movement n.
func MatchID(n int64) string { return "match-" + strconv.FormatInt(n, 10) }

// BankID returns the finding ID of movement n, unmatched.
func BankID(n int64) string { return "bank-" + strconv.FormatInt(n, 10) }

// findingsOf folds a snapshot into findings, aged as of today.
func findingsOf(s *Snapshot, today clearing.Day) []Finding {
	ins := make(map[string]*Instruction, len(s.Instructions))
	for i := range s.Instructions {
		ins[s.Instructions[i].EndToEndID] = &s.Instructions[i]
	}
	mvs := make(map[int64]*Movement, len(s.Movements))
	for i := range s.Movements {
		mvs[s.Movements[i].ID] = &s.Movements[i]
	}
	var out []Finding
	add := func(f Finding, is []string, ms []int64) {
		f.Since = 1<<31 - 1
		for _, e := range is {
			in := ins[e]
			f.Direction = in.Direction
			f.Since = min(f.Since, in.Due)
			f.EndToEndIDs = append(f.EndToEndIDs, e)
			if !slices.Contains(f.Parties, in.Party) {
				f.Parties = append(f.Parties, in.Party)
			}
		}
		for _, id := range ms {
			m := mvs[id]
			f.Direction = m.Direction
			f.Since = min(f.Since, m.Booked)
			ref := m.Statement + "#" + strconv.Itoa(m.Seq)
			if m.BankRef != "" {
				ref += " " + m.BankRef
			}
			f.Movements = append(f.Movements, ref)
		}
		f.AgeDays = max(0, int(today-f.Since))
		out = append(out, f)
	}
	for _, m := range s.Matches {
		add(Finding{ID: MatchID(m.ID), State: m.State, InstructedFen: m.InstructedFen, BankFen: m.BankFen, How: m.How, Statement: m.Statement}, m.Instructions, m.Movements)
	}
	for _, in := range s.Instructions {
		if in.Match == 0 {
			add(Finding{ID: in.EndToEndID, State: OursUnmatched, InstructedFen: in.SignedFen()}, []string{in.EndToEndID}, nil)
		}
	}
	for _, m := range s.Movements {
		if m.Match == 0 {
			add(Finding{ID: BankID(m.ID), State: BankUnmatched, BankFen: m.SignedFen(), Statement: m.Statement}, nil, []int64{m.ID})
		}
	}
	res := make(map[string]*Resolution, len(s.Resolutions))
	for i := range s.Resolutions {
		res[s.Resolutions[i].Finding] = &s.Resolutions[i]
	}
	for i := range out {
		out[i].Resolution = res[out[i].ID]
	}
	slices.SortFunc(out, func(a, b Finding) int {
		if a.Since != b.Since {
			return int(a.Since - b.Since)
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}

// Resolve has staff member by, at service point point, resolve open
// finding id with decision d, for the reason note; the resolution and its
// audit record (card management's log: subject recon:ID, action
// recon.resolve, the finding before and after) in one transaction. Kind
// Invalid (a bad name, point, note, or not_ours of anything but a
// movement), NotFound, Conflict (a finding not open: matched, or
// resolved already).
func (r *Reconciler) Resolve(ctx context.Context, id string, d Decision, note, by, point string) (Finding, error) {
	const op = "recon.Reconciler.Resolve"
	if err := checkWho(op, by, point); err != nil {
		return Finding{}, err
	}
	if why := checkText(note, NoteLenMax, true); why != "" {
		return Finding{}, citycard.E(op, citycard.Invalid, "note %q: %s", clip(note), why)
	}
	if int(d) >= len(decisionNames) || decisionNames[d] == "" {
		return Finding{}, citycard.E(op, citycard.Invalid, "decision %v: want corrected, accepted, not_ours or written_off", d)
	}
	f, err := r.Finding(ctx, id)
	if err != nil {
		return Finding{}, err
	}
	if !f.Open() {
		why := "matched"
		if f.Resolution != nil {
			why = fmt.Sprintf("resolved already (%v by %s)", f.Resolution.Decision, f.Resolution.By)
		}
		return Finding{}, citycard.E(op, citycard.Conflict, "finding %s is not open: %s", id, why)
	}
	if d == NotOurs && f.State != BankUnmatched {
		return Finding{}, citycard.E(op, citycard.Invalid, "finding %s is %s: not_ours is a decision on a movement the bank booked", id, f.State.String())
	}
	res := &Resolution{Finding: id, Decision: d, Note: note, By: by, Point: point, At: r.now()}
	before, err := json.Marshal(f.View())
	if err != nil {
		return Finding{}, citycard.E(op, citycard.Invalid, "%w", err)
	}
	f.Resolution = res
	after, err := json.Marshal(f.View())
	if err != nil {
		return Finding{}, citycard.E(op, citycard.Invalid, "%w", err)
	}
	a := &cms.AuditRecord{At: res.At, Actor: by, ServicePoint: point, Subject: "recon:" + id, Action: "recon.resolve", Before: string(before), After: string(after)}
	if err := r.store.Resolve(ctx, res, a); err != nil {
		return Finding{}, citycard.Wrap(op, citycard.Other, err)
	}
	return f, nil
}

// checkWho checks the names of who does something and where. Kind
// Invalid.
func checkWho(op, by, point string) error {
	if why := checkText(by, clearing.StaffLenMax, true); why != "" {
		return citycard.E(op, citycard.Invalid, "staff name %q: %s", clip(by), why)
	}
	if why := checkText(point, PointLenMax, true); why != "" {
		return citycard.E(op, citycard.Invalid, "service point %q: %s", clip(point), why)
	}
	return nil
}

// FindingView is a finding as reports, the audit log and the API show
// it: snake_case, amounts in fen, days as YYYY-MM-DD.
type FindingView struct {
	ID            string   `json:"id"`
	State         string   `json:"state"`
	Direction     string   `json:"direction"` // DBIT: payments made; CRDT: pay-ins
	Open          bool     `json:"open"`
	Since         string   `json:"since"`
	AgeDays       int      `json:"age_days"`
	InstructedFen int64    `json:"instructed_fen"`
	BankFen       int64    `json:"bank_fen"`
	DifferenceFen int64    `json:"difference_fen"`
	EndToEndIDs   []string `json:"end_to_end_ids"`
	Parties       []string `json:"parties"`
	Movements     []string `json:"movements"`
	How           string   `json:"how,omitempty"`
	Statement     string   `json:"statement,omitempty"`
	Decision      string   `json:"decision,omitempty"`
	ResolvedBy    string   `json:"resolved_by,omitempty"`
	ServicePoint  string   `json:"service_point,omitempty"`
	Note          string   `json:"note,omitempty"`
	ResolvedAt    string   `json:"resolved_at,omitempty"`
}

// View returns f as FindingView.
func (f *Finding) View() FindingView {
	v := FindingView{ID: f.ID, State: f.State.String(), Direction: f.Direction.String(), Open: f.Open(), Since: f.Since.String(), AgeDays: f.AgeDays,
		InstructedFen: f.InstructedFen, BankFen: f.BankFen, DifferenceFen: f.DifferenceFen(),
		EndToEndIDs: nonNil(f.EndToEndIDs), Parties: nonNil(f.Parties), Movements: nonNil(f.Movements), How: f.How, Statement: f.Statement}
	if r := f.Resolution; r != nil {
		v.Decision, v.ResolvedBy, v.ServicePoint, v.Note, v.ResolvedAt = r.Decision.String(), r.By, r.Point, r.Note, r.At.UTC().Format(time.RFC3339)
	}
	return v
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
