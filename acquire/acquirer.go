package acquire

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
)

// Config sets an Acquirer up.
type Config struct {
	Journal   Journal
	Terminals Terminals
	Verifier  *record.Verifier
	Blacklist Blacklist        // nil: none
	Fares     Fares            // nil: fares are not re-priced
	Now       func() time.Time // nil: time.Now
	Shards    int              // partitions of card state; 0: 16
	Workers   int              // verification goroutines per batch; 0: GOMAXPROCS
	// InFlightRecords bounds the records of batches being verified or
	// waiting for the sequencer; a batch that would pass it is refused at
	// once (kind Unavailable: the terminal retries later) rather than held
	// in memory. 0: MaxInFlightRecords.
	InFlightRecords int
	// CheckpointEvery is how many journaled records pass between two
	// checkpoints of the same part of the state (the parts are saved in
	// turn, evenly spread); it bounds the replay at start. 0: about 16M.
	// Close checkpoints every part.
	CheckpointEvery int64
	Logger          *slog.Logger // nil: discard
}

// Acquirer verifies, classifies and journals uploaded batches. It is safe
// for concurrent use: Submit is called by many HTTP handlers at once.
type Acquirer struct {
	cfg  Config
	jobs chan *job
	done chan struct{}
	// gate orders sends on jobs before its closing: Submit sends under
	// the read lock, Close closes under the write lock.
	gate    sync.RWMutex
	closing bool

	inflight atomic.Int64 // records admitted by Submit and not yet answered
	refusedN atomic.Int64 // batches refused whole (Stats.Refused)
	// faresUnchecked counts composite purchases the fare rules could not
	// price (Stats.FaresUnchecked).
	faresUnchecked atomic.Int64
	// stale: a commit failed and the journal could not tell whether it
	// had committed, so the state may be behind the journal; the next
	// group resyncs first, and batches are refused until it can.
	stale atomic.Bool

	mu        sync.Mutex // guards st and the fields below
	st        *state
	epoch     uint32 // the undo epoch of the last batch classified
	sinceCP   int64  // records journaled since the last part's checkpoint
	nextPart  int    // the part the next checkpoint saves
	loadedPos int64  // the position the state was loaded at
	stats     Stats
	// undoFree holds undos for reuse: saving a thousand shadows a batch
	// would otherwise allocate as much at every batch, for the collector.
	undoFree []*undo
	// entries is the array of the last commit's Entries, reused by the
	// next (a Journal keeps none of a Commit's entries): grown by append
	// at every group, they were a sixth of what bench ingest allocated.
	entries []Journaled
	// chunkData is the last commit's Commit.chunkData, reused likewise.
	chunkData []byte

	// items holds the verified records of batches that are over, for
	// reuse (*[]item): a batch's items cost more than its body.
	items sync.Pool

	closeOnce sync.Once
	closeErr  error
}

// Stats counts what the acquirer did since it started.
type Stats struct {
	Batches    int64
	Records    int64
	Accepted   int64
	Flagged    int64
	Duplicates int64
	Rejected   int64
	Commits    int64
	// Refused counts batches refused whole and not answered (busy, a
	// fault of the registry or the journal, a terminal sequence at its
	// bound): their terminals keep them queued and retry.
	Refused int64
	// FaresUnchecked counts composite purchases the fare rules could not
	// re-price (another network, a code the table lacks): not flagged,
	// but counted, so that a fare table that prices nothing shows.
	FaresUnchecked int64
	// Replayed is how many journaled records the start replayed, and
	// ReplayTime how long loading the checkpoint and replaying took.
	Replayed   int64
	ReplayTime time.Duration
	Cards      int64 // cards with a shadow, now
}

type job struct {
	b     Batch
	hash  [32]byte
	info  TerminalInfo // the uploading terminal, as the registry knew it at upload
	items []item
	resub *Resubmission // a resubmitted rejection: its audit
	reply chan jobResult
}

type jobResult struct {
	ans Answer
	err error
}

// item is one record of a batch after decoding and verification.
type item struct {
	raw    []byte
	rec    record.Record
	out    Outcome
	reject string
	detail string
	// fare is what re-pricing the record found.
	fare FareVerdict
	// foreign: the card is another city's (record.Verifier.Foreign), its
	// money taken from the interconnection receivable of its issuer.
	foreign bool
}

// Open loads the state (checkpoint, then the journal after it) and starts
// the sequencer. Errors of the journal pass through; kind Invalid if the
// journal does not replay to the decisions it recorded.
func Open(ctx context.Context, cfg Config) (*Acquirer, error) {
	const op = "acquire.Open"
	if cfg.Journal == nil || cfg.Terminals == nil || cfg.Verifier == nil {
		return nil, citycard.E(op, citycard.Invalid, "journal, terminals and verifier are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Shards <= 0 {
		cfg.Shards = defaultShards
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.InFlightRecords <= 0 {
		cfg.InFlightRecords = MaxInFlightRecords
	}
	if cfg.CheckpointEvery <= 0 {
		cfg.CheckpointEvery = defaultCkptRecs
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	a := &Acquirer{cfg: cfg, jobs: make(chan *job, 256), done: make(chan struct{})}
	start := time.Now()
	st, n, aligned, err := a.loadAligned(ctx)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	a.st, a.loadedPos = st, -1
	if aligned {
		a.loadedPos = st.pos
	}
	a.stats.Replayed, a.stats.ReplayTime = n, time.Since(start)
	cfg.Logger.Info("acquire: state loaded", "pos", st.pos, "replayed", n, "took", a.stats.ReplayTime)
	go a.loop()
	return a, nil
}

// load builds the state from the newest checkpoint of each part and the
// journal after the oldest of them, applying each entry only to the parts
// that do not include it, and checking that every replayed decision is
// the one recorded. Checkpoints that do not fit (another shard count) are
// dropped: the journal alone is the truth, replaying it all only takes
// longer.
func (a *Acquirer) load(ctx context.Context) (*state, int64, error) {
	st, n, _, err := a.loadAligned(ctx)
	return st, n, err
}

// loadAligned is load; aligned reports that every part was checkpointed
// at the journal's end (nothing replayed, nothing to save at close).
func (a *Acquirer) loadAligned(ctx context.Context) (st *state, n int64, aligned bool, err error) {
	const op = "acquire.load"
	st = newState(a.cfg.Shards)
	partPos := make([]int64, st.parts())
	cps, err := a.cfg.Journal.LoadCheckpoints(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	for _, cp := range cps {
		p, err := st.decode(cp.Data)
		if err == nil && p != cp.Part {
			err = citycard.E(op, citycard.Invalid, "checkpoint stored as part %d holds part %d", cp.Part, p)
		}
		if err != nil {
			a.cfg.Logger.Warn("acquire: checkpoints dropped; replaying the whole journal", "err", err)
			st, partPos = newState(a.cfg.Shards), make([]int64, st.parts())
			break
		}
		partPos[p] = cp.Pos
	}
	from := slices.Min(partPos)
	st.pos = slices.Max(partPos)
	terms := st.termsPart()
	prev := from
	err = a.cfg.Journal.Replay(ctx, from, func(e *Journaled) error {
		if e.Pos != prev+1 {
			return citycard.E(op, citycard.Invalid, "journal position %d follows %d", e.Pos, prev)
		}
		prev = e.Pos
		rec, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return citycard.E(op, citycard.Invalid, "journaled record %d: %w", e.Pos, err)
		}
		if e.Pos > partPos[Shard(rec.Issuer, rec.ASN, len(st.shards))] {
			if d := st.stepCard(&rec, e.Outcome, e.Pos, nil); d.class != e.Class {
				return citycard.E(op, citycard.Invalid, "journaled record %d replays as class %d, recorded %d: the journal or the state code changed", e.Pos, d.class, e.Class)
			}
		}
		if e.Pos > partPos[terms] && termPart(e.Class) {
			st.stepTerminal(&rec, nil)
		}
		st.pos = max(st.pos, e.Pos)
		n++
		return nil
	})
	if err != nil {
		return nil, 0, false, err
	}
	// A checkpoint past the journal's end means the journal lost entries
	// (a restored backup, a rolled-back database): the state would book
	// against records that are not there.
	last, err := a.cfg.Journal.LastPos(ctx)
	if err != nil {
		return nil, 0, false, err
	}
	if last != st.pos {
		return nil, 0, false, citycard.E(op, citycard.Invalid, "the checkpoints and replay reach position %d but the journal ends at %d", st.pos, last)
	}
	return st, n, slices.Min(partPos) == last, nil
}

// Close stops the sequencer once the batches already submitted are done,
// and checkpoints the state.
func (a *Acquirer) Close() error {
	a.closeOnce.Do(func() {
		a.gate.Lock()
		a.closing = true
		close(a.jobs)
		a.gate.Unlock()
		<-a.done
		a.mu.Lock()
		defer a.mu.Unlock()
		a.closeErr = a.checkpointAllLocked(context.Background())
	})
	return a.closeErr
}

// Health returns nil while the acquirer takes batches, and otherwise why
// it refuses them (kind Unavailable): it is closing, or a commit failed
// and the journal could not be read since, so that it cannot decide
// records until the journal answers (each batch tries). A server's
// health check answers with it.
func (a *Acquirer) Health() error {
	const op = "acquire.Health"
	if a.stale.Load() {
		return citycard.E(op, citycard.Unavailable, "a commit failed and the journal could not be read since: batches are refused until it can")
	}
	a.gate.RLock()
	defer a.gate.RUnlock()
	if a.closing {
		return citycard.E(op, citycard.Unavailable, "acquirer closed")
	}
	return nil
}

// Stats returns the counters.
func (a *Acquirer) Stats() Stats {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.stats
	st.Refused = a.refusedN.Load()
	st.FaresUnchecked = a.faresUnchecked.Load()
	for i := range a.st.shards {
		st.Cards += int64(len(a.st.shards[i].cards))
	}
	return st
}

// Shadow is the back office's view of a card.
type Shadow struct {
	LastCounter   int32 // the highest offline counter seen, -1 if none
	LastOnline    int32 // the highest online counter seen, -1 if none
	ReportedFen   int64 // the balance the card's newest record reported
	BookedFen     int64 // loads seen minus purchases booked
	OpenGaps      int   // offline counters still missing
	GreysPending  int   // grey records in suspense
	GapSpans      [][2]uint32
	SuspenseFen   int64
	LoadsSinceFen int64
}

// Shadow returns the card's shadow; ok is false for a card never seen.
func (a *Acquirer) Shadow(issuer citycard.IssuerCode, asn citycard.ASN) (Shadow, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.st.card(cardID{issuer, asn})
	if !ok {
		return Shadow{}, false
	}
	s := Shadow{
		LastCounter: int32(c.offline.last), LastOnline: int32(c.online.last), ReportedFen: c.reported,
		BookedFen: c.booked, LoadsSinceFen: c.loadsSince,
	}
	for _, g := range c.offline.spans() {
		s.OpenGaps += int(g.hi - g.lo + 1)
		s.GapSpans = append(s.GapSpans, [2]uint32{g.lo, g.hi})
	}
	for _, g := range c.greyList() {
		if !g.confirmed { // a confirmed one is booked, kept only to be contradicted
			s.GreysPending++
			s.SuspenseFen += int64(g.amount)
		}
	}
	return s, true
}

// OnlineCounter returns the highest online counter seen in the card's
// load records; ok is false for a card without one. It is what card
// management's load host settles unconfirmed loads from (cms.CardRecords).
func (a *Acquirer) OnlineCounter(issuer citycard.IssuerCode, asn citycard.ASN) (uint16, bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	c, ok := a.st.card(cardID{issuer, asn})
	if !ok || c.online.last < 0 {
		return 0, false
	}
	return uint16(c.online.last), true
}

// MaxInFlightRecords is the default bound of Config.InFlightRecords: about
// 80 MB of batches being verified or waiting for the sequencer, a few
// seconds of the sequencer's work.
const MaxInFlightRecords = 1 << 18

// errCommittedMeanwhile tells submit that the batch was committed by
// another upload of it after submit looked it up: look it up again.
var errCommittedMeanwhile = errors.New("acquire: batch committed meanwhile")

// Submit verifies the batch, has the sequencer classify and journal it,
// and returns the answer per record. A batch committed before is answered
// from the journal (Answer.Repeat).
//
// Every answer is a promise: the terminal deletes each record answered
// for. So Submit answers only what it decided, and otherwise refuses the
// batch whole, nothing of it kept, and the terminal keeps it queued:
//   - kind Invalid: malformed, header totals wrong, a batch ID no terminal
//     may use (ResubmitPrefix);
//   - kind Conflict: a batch ID reused with other content, or a batch
//     that could take its terminal's sequence past its bound (maxSpans);
//   - kind Unavailable: the acquirer is closing or cannot decide (see
//     Health), or is busy (Config.InFlightRecords): retry later;
//   - kind IO: the registry or the journal failed: retry later.
//
// An unknown terminal is not a fault: the registry's answer (kind
// NotFound) is a decision, and its records are rejected and kept.
func (a *Acquirer) Submit(ctx context.Context, b Batch) (Answer, error) {
	const op = "acquire.Submit"
	if err := checkBatch(&b); err != nil {
		return Answer{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	return a.submitWith(ctx, op, b, nil)
}

// submitWith is Submit after the batch's own checks; resub, if not nil,
// says which rejection the batch resubmits, and who asked.
func (a *Acquirer) submitWith(ctx context.Context, op string, b Batch, resub *Resubmission) (Answer, error) {
	// A stale acquirer is not refused here: its sequencer resyncs with
	// the journal before the next group, or refuses it.
	n := int64(b.Count)
	if in := a.inflight.Add(n); in > int64(a.cfg.InFlightRecords) {
		a.inflight.Add(-n)
		return Answer{}, a.refuse(op, citycard.Unavailable, fmt.Errorf("busy: batch %q of %d records would make %d in flight, at most %d", b.ID, n, in, a.cfg.InFlightRecords))
	}
	defer a.inflight.Add(-n)
	hash := batchHash(&b)
	var j *job
	defer func() {
		// Once its reply is read the sequencer is done with the job.
		if j != nil {
			a.putItems(j.items)
		}
	}()
	// Twice at most: a batch that another upload of it committed between
	// the look-up and the sequencer is looked up again and answered from
	// the journal.
	for attempt := 0; attempt < 2; attempt++ {
		// Asked here, on the uploading request's goroutine, not in the
		// sequencer: the sequencer makes no database round trip but its
		// commit, and the store's uniqueness of batch IDs catches the
		// race (errCommittedMeanwhile).
		sb, ok, err := a.cfg.Journal.Batch(ctx, b.Terminal, b.ID)
		if err != nil {
			return Answer{}, a.refuse(op, citycard.IO, fmt.Errorf("batch %q: looking it up in the journal: %w", b.ID, err))
		}
		if ok {
			return repeatAnswer(op, &sb, hash)
		}
		if j == nil {
			info, err := a.cfg.Terminals.Terminal(ctx, b.Terminal)
			known := err == nil
			if err != nil && !citycard.IsKind(err, citycard.NotFound) {
				return Answer{}, a.refuse(op, transientKind(err), fmt.Errorf("batch %q: looking terminal %v up: %w", b.ID, b.Terminal, err))
			}
			j = &job{b: b, hash: hash, info: info, items: a.verify(b.Terminal, b.Body, info, known), resub: resub}
		}
		j.reply = make(chan jobResult, 1)
		if err := a.send(ctx, op, j); err != nil {
			return Answer{}, err
		}
		r := <-j.reply
		if errors.Is(r.err, errCommittedMeanwhile) {
			continue
		}
		return r.ans, r.err
	}
	return Answer{}, a.refuse(op, citycard.IO, fmt.Errorf("batch %q was committed meanwhile but the journal does not show it", b.ID))
}

// transientKind is the kind a fault of a dependency takes when it refuses
// a batch: Unavailable stays, anything else is IO.
func transientKind(err error) citycard.Kind {
	if citycard.IsKind(err, citycard.Unavailable) {
		return citycard.Unavailable
	}
	return citycard.IO
}

// refuse counts a batch refused whole and returns err under op and kind.
func (a *Acquirer) refuse(op string, kind citycard.Kind, err error) error {
	a.refusedN.Add(1)
	return citycard.Wrap(op, kind, err)
}

// send hands j to the sequencer. Once sent, the batch is processed
// whatever happens to ctx: a terminal that gave up re-uploads and gets
// the stored answer.
func (a *Acquirer) send(ctx context.Context, op string, j *job) error {
	a.gate.RLock()
	defer a.gate.RUnlock()
	if a.closing {
		return a.refuse(op, citycard.Unavailable, errors.New("acquirer closed"))
	}
	select {
	case a.jobs <- j:
		return nil
	case <-ctx.Done():
		return a.refuse(op, citycard.IO, fmt.Errorf("batch %q not submitted: %w", j.b.ID, ctx.Err()))
	}
}

func repeatAnswer(op string, sb *StoredBatch, h [32]byte) (Answer, error) {
	if sb.Hash != h {
		return Answer{}, citycard.E(op, citycard.Conflict, "batch %q of terminal %v was committed with other content", sb.ID, sb.Terminal)
	}
	var ans Answer
	if err := json.Unmarshal(sb.Answer, &ans); err != nil {
		return Answer{}, citycard.E(op, citycard.IO, "stored answer of batch %q: %w", sb.ID, err)
	}
	for i := range ans.Records {
		ans.Records[i].Verdict = verdictOf(ans.Records[i].Status)
	}
	ans.Repeat = true
	return ans, nil
}

func verdictOf(s string) Verdict {
	for v, n := range verdictNames {
		if n == s && n != "" {
			return Verdict(v)
		}
	}
	return 0
}

// checkBatch refuses a batch whose header does not match its body.
func checkBatch(b *Batch) error {
	if b.ID == "" || len(b.ID) > MaxBatchIDLen {
		return fmt.Errorf("batch ID of %d bytes: want 1 to %d", len(b.ID), MaxBatchIDLen)
	}
	for i := 0; i < len(b.ID); i++ {
		if c := b.ID[i]; c < 0x21 || c > 0x7E {
			return fmt.Errorf("batch ID %q: byte %d is not printable ASCII", b.ID, i)
		}
	}
	if strings.HasPrefix(b.ID, ResubmitPrefix) {
		return fmt.Errorf("batch ID %q: IDs beginning %q are the back office's own (resubmitted rejections)", b.ID, ResubmitPrefix)
	}
	return checkBody(b)
}

// checkBody refuses a batch whose body does not match its header totals.
func checkBody(b *Batch) error {
	if len(b.Body)%record.Size != 0 {
		return fmt.Errorf("batch %q: body of %d bytes is not a whole number of %d-byte records (truncated upload?)", b.ID, len(b.Body), record.Size)
	}
	n := len(b.Body) / record.Size
	if n < 1 || n > MaxBatchRecords {
		return fmt.Errorf("batch %q: %d records, want 1 to %d", b.ID, n, MaxBatchRecords)
	}
	if b.Count != n {
		return fmt.Errorf("batch %q: header says %d records, body holds %d", b.ID, b.Count, n)
	}
	var sum int64
	for i := 0; i < n; i++ {
		fen, _ := record.AmountOf(b.Body[i*record.Size:])
		sum += int64(fen)
	}
	if sum != b.AmountFen {
		return fmt.Errorf("batch %q: header says %d fen, records sum to %d", b.ID, b.AmountFen, sum)
	}
	return nil
}

func batchHash(b *Batch) [32]byte {
	h := sha256.New()
	h.Write(b.Terminal[:])
	h.Write([]byte(b.ID))
	var n [16]byte
	binary.BigEndian.PutUint64(n[:8], uint64(b.Count))
	binary.BigEndian.PutUint64(n[8:], uint64(b.AmountFen))
	h.Write(n[:])
	h.Write(b.Body)
	return [32]byte(h.Sum(nil))
}

// verify decodes and verifies every record uploaded by terminal, whose
// registration is info (known false: the registry does not know it), on
// up to Workers goroutines.
func (a *Acquirer) verify(terminal citycard.TerminalID, body []byte, info TerminalInfo, known bool) []item {
	n := len(body) / record.Size
	items := a.getItems(n)
	const chunk = 128
	var wg sync.WaitGroup
	sem := make(chan struct{}, a.cfg.Workers)
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			for i := lo; i < hi; i++ {
				a.verifyOne(&items[i], body[i*record.Size:(i+1)*record.Size], terminal, info, known)
			}
		}()
	}
	wg.Wait()
	return items
}

// getItems returns n zero items, reused if it can (see putItems).
func (a *Acquirer) getItems(n int) []item {
	if p, ok := a.items.Get().(*[]item); ok && cap(*p) >= n {
		return (*p)[:n]
	}
	return make([]item, n, max(n, itemsKept))
}

// itemsKept is the capacity of the item slices kept for reuse: a batch
// of the usual size (terminals upload about a thousand records a batch),
// not the largest, so that the pool holds little.
const itemsKept = 1024

// putItems keeps items for reuse, zeroed: they hold the batch's strings
// and its body, which must not outlive it. A slice larger than itemsKept
// is dropped.
func (a *Acquirer) putItems(items []item) {
	if cap(items) > itemsKept {
		return
	}
	items = items[:cap(items)]
	clear(items)
	a.items.Put(&items)
}

// verifyOne applies the acquisition rules that need no state to one
// record: it decodes, was sealed by the uploading terminal's registered
// PSAM, and its record MAC (under the record key of the terminal's
// operator) and TAC verify. What fails is the item's rejection.
func (a *Acquirer) verifyOne(it *item, raw []byte, terminal citycard.TerminalID, info TerminalInfo, known bool) {
	it.raw = raw
	rec, err := record.DecodeBinary(raw)
	if err != nil {
		it.reject, it.detail = RejectUndecodable, err.Error()
		return
	}
	it.rec = rec
	switch {
	case !known:
		it.reject, it.detail = RejectUnknownTerminal, "terminal "+terminal.String()+" is not registered"
	case !info.Active:
		it.reject, it.detail = RejectInactive, "terminal "+terminal.String()+" is not active"
	case rec.TerminalID != terminal:
		it.reject, it.detail = RejectWrongTerminal, "record of terminal "+rec.TerminalID.String()+" uploaded by "+terminal.String()
	case rec.PSAMID != info.PSAM:
		it.reject, it.detail = RejectPSAM, "PSAM "+rec.PSAMID.String()+" is not the terminal's ("+info.PSAM.String()+")"
	}
	if it.reject != "" {
		return
	}
	err = a.cfg.Verifier.VerifyFor(&it.rec, info.OperatorCode)
	switch {
	case err == nil:
		it.out = OutcomeVerified
		if a.cfg.Fares != nil && rec.Type == citycard.TxCompositePurchase {
			it.fare = a.cfg.Fares.Recheck(&it.rec)
			if it.fare == FareUnchecked {
				a.faresUnchecked.Add(1)
			}
		}
	case record.IsPendingIssuer(err):
		it.out, it.foreign = OutcomePendingIssuer, true
	case rec.Status == record.StatusGrey && citycard.IsKind(err, citycard.Invalid):
		// The record MAC verified; a grey record has no TAC to check, but
		// its card may be another city's.
		foreign, ferr := a.cfg.Verifier.Foreign(rec.Issuer)
		if ferr != nil {
			it.reject, it.detail = RejectKey, ferr.Error()
			return
		}
		it.out, it.foreign = OutcomeGrey, foreign
	case citycard.IsKind(err, citycard.KeyMissing):
		it.reject, it.detail = RejectKey, err.Error()
	default:
		it.reject, it.detail = RejectTAC, err.Error()
		if errors.Is(err, record.ErrRecordMAC) {
			it.reject = RejectRecordMAC
		}
	}
}

// loop is the sequencer: it takes jobs in arrival order and commits them
// in groups.
func (a *Acquirer) loop() {
	defer close(a.done)
	for j := range a.jobs {
		group := []*job{j}
		n := len(j.items)
	drain:
		for len(group) < maxGroupBatches && n < maxGroupRecords {
			select {
			case j2, ok := <-a.jobs:
				if !ok {
					break drain
				}
				group = append(group, j2)
				n += len(j2.items)
			default:
				break drain
			}
		}
		a.process(group)
	}
}

type moveKey struct {
	debit, credit ledger.Account
	product       uint16
}

// process classifies a group of jobs, commits them in one transaction and
// answers them.
func (a *Acquirer) process(group []*job) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.stale.Load() {
		if err := a.resyncLocked(context.Background()); err != nil {
			errs := make([]error, len(group))
			for i := range errs {
				errs[i] = a.refuse("acquire.process", citycard.Unavailable, err)
			}
			a.reply(group, make([]*Answer, len(group)), errs)
			return
		}
	}
	a.commitGroupLocked(group, true)
}

// resyncLocked brings the state back in line with the journal after a
// commit whose outcome could not be told: if the journal moved, the state
// is rebuilt from it. Kind Unavailable while the journal cannot be read.
func (a *Acquirer) resyncLocked(ctx context.Context) error {
	const op = "acquire.resync"
	last, err := a.cfg.Journal.LastPos(ctx)
	if err != nil {
		return citycard.E(op, citycard.Unavailable, "the journal cannot be read: %w", err)
	}
	if last != a.st.pos {
		a.cfg.Logger.Warn("acquire: the journal moved past the state (a commit reported failed went through); rebuilding the state", "state", a.st.pos, "journal", last)
		st, _, err := a.load(ctx)
		if err != nil {
			return citycard.E(op, citycard.Unavailable, "rebuilding the state from the journal: %w", err)
		}
		a.st = st
	}
	a.stale.Store(false)
	return nil
}

// commitGroupLocked classifies group against the state, commits it in
// one transaction and answers it. When the commit fails, the group's
// batches are taken back out of the state (their undos) and, if split and
// the group has more than one batch, committed one by one, so that a batch
// that cannot commit fails alone. a.mu is held.
func (a *Acquirer) commitGroupLocked(group []*job, split bool) {
	const op = "acquire.process"
	ctx := context.Background()
	now := a.cfg.Now()

	c := &Commit{At: now, Entries: a.entries[:0], chunkData: a.chunkData}
	defer func() { a.entries, a.chunkData = c.Entries[:0], c.chunkData }()
	answers := make([]*Answer, len(group))
	errs := make([]error, len(group))
	first := map[string]int{} // batch key -> index in group of its first job
	startPos := a.st.pos
	var undos []*undo
	defer func() { a.freeUndos(undos...) }()
	var stats Stats
	for gi, j := range group {
		key := batchKey(j.b.Terminal, j.b.ID)
		if fi, dup := first[key]; dup {
			// The same batch twice in one group: answered as a repeat of
			// the first, after the commit.
			if group[fi].hash != j.hash {
				errs[gi] = citycard.E(op, citycard.Conflict, "batch %q of terminal %v was submitted with other content", j.b.ID, j.b.Terminal)
			}
			continue
		}
		first[key] = gi
		u, ans, moves, err := a.classify(j, now, c, &stats)
		if err != nil {
			errs[gi] = err
			continue
		}
		body, err := json.Marshal(ans)
		if err != nil {
			panic("acquire: marshal answer: " + err.Error())
		}
		c.Batches = append(c.Batches, StoredBatch{Terminal: j.b.Terminal, ID: j.b.ID, Hash: j.hash, Answer: body, At: now})
		c.Movements = append(c.Movements, moves)
		answers[gi] = ans
		undos = append(undos, u)
	}
	if len(c.Batches) == 0 {
		a.reply(group, answers, errs)
		return
	}

	err := a.cfg.Journal.Commit(ctx, c)
	if err == nil {
		a.sinceCP += int64(len(c.Entries))
		stats.Commits = 1
		stats.Batches = int64(len(c.Batches))
		a.addStats(&stats)
		if a.sinceCP >= max(1, a.cfg.CheckpointEvery/int64(a.st.parts())) {
			if err := a.checkpointLocked(ctx); err != nil {
				a.cfg.Logger.Error("acquire: checkpoint failed", "err", err)
			}
		}
		a.reply(group, answers, errs)
		return
	}

	a.cfg.Logger.Error("acquire: commit failed; its batches are taken back out of the state", "batches", len(c.Batches), "err", err)
	for i := len(undos) - 1; i >= 0; i-- {
		undos[i].restore(a.st)
	}
	// A commit reported failed may have gone through (the connection was
	// lost after COMMIT): the journal's end tells.
	batchErr := citycard.Wrap(op, citycard.IO, err)
	last, lerr := a.cfg.Journal.LastPos(ctx)
	switch {
	case lerr == nil && last == startPos:
		// Nothing was committed.
		if split && len(c.Batches) > 1 {
			for _, j := range group {
				a.commitGroupLocked([]*job{j}, false)
			}
			return
		}
		if citycard.IsKind(err, citycard.Exists) {
			// Another upload of the batch committed it: answer from it.
			batchErr = errCommittedMeanwhile
		}
	default:
		// The journal moved, or cannot be read: the state may be behind
		// it. Resync now if it can; the batches are looked up again.
		a.stale.Store(true)
		if lerr == nil && a.resyncLocked(ctx) == nil {
			batchErr = errCommittedMeanwhile
		}
	}
	for gi := range group {
		if answers[gi] != nil {
			answers[gi], errs[gi] = nil, batchErr
			if batchErr != errCommittedMeanwhile {
				a.refusedN.Add(1)
			}
		}
	}
	a.reply(group, answers, errs)
}

func (a *Acquirer) reply(group []*job, answers []*Answer, errs []error) {
	first := map[string]int{}
	for gi, j := range group {
		key := batchKey(j.b.Terminal, j.b.ID)
		fi, dup := first[key]
		if !dup {
			first[key] = gi
		}
		switch {
		case errs[gi] != nil:
			j.reply <- jobResult{err: errs[gi]}
		case dup:
			if errs[fi] != nil {
				j.reply <- jobResult{err: errs[fi]}
				continue
			}
			ans := *answers[fi]
			ans.Repeat = true
			j.reply <- jobResult{ans: ans}
		default:
			j.reply <- jobResult{ans: *answers[gi]}
		}
	}
}

// nGreysOf counts the settlements before the ones of the entry at pos, at
// the end of greys (in position order): the Index of the next one at pos
// is len(greys) minus it.
func nGreysOf(greys []GreyDecision, pos int64) int {
	n := len(greys)
	for n > 0 && greys[n-1].Pos == pos {
		n--
	}
	return n
}

func (a *Acquirer) addStats(s *Stats) {
	a.stats.Batches += s.Batches
	a.stats.Records += s.Records
	a.stats.Accepted += s.Accepted
	a.stats.Flagged += s.Flagged
	a.stats.Duplicates += s.Duplicates
	a.stats.Rejected += s.Rejected
	a.stats.Commits += s.Commits
}

// classify decides every record of j against the state, appending the
// journaled records and rejections to c, and returns the batch's undo, its
// answer and its aggregated movements. A batch it refuses (kind Conflict:
// its terminal's sequence would pass its bound; kind IO: the registry
// failed) leaves c, the state and stats as they were.
func (a *Acquirer) classify(j *job, now time.Time, c *Commit, stats *Stats) (*undo, *Answer, []Movement, error) {
	const op = "acquire.classify"
	if t, ok := a.st.terms[j.b.Terminal]; ok && len(t.spans())+len(j.items) > maxSpans {
		a.refusedN.Add(1)
		return nil, nil, nil, citycard.E(op, citycard.Conflict,
			"terminal %v: its sequence has %d open gaps and a batch of %d records could take it past %d: refused until staff look at its PSAM",
			j.b.Terminal, len(t.spans()), len(j.items), maxSpans)
	}
	u := a.newUndo(len(j.items))
	nEntries, nRejections, nGreys := len(c.Entries), len(c.Rejections), len(c.Greys)
	var bs Stats
	fail := func(err error) (*undo, *Answer, []Movement, error) {
		u.restore(a.st)
		a.freeUndos(u)
		c.Entries, c.Rejections, c.Greys = c.Entries[:nEntries], c.Rejections[:nRejections], c.Greys[:nGreys]
		a.refusedN.Add(1)
		return nil, nil, nil, err
	}

	ans := &Answer{Terminal: j.b.Terminal.String(), BatchID: j.b.ID, Records: make([]RecordAnswer, len(j.items)), Resubmission: j.resub}
	moves := map[moveKey]*Movement{}
	move := func(debit, credit ledger.Account, product uint16, fen uint32) {
		if fen == 0 {
			return
		}
		k := moveKey{debit, credit, product}
		m := moves[k]
		if m == nil {
			m = &Movement{Debit: debit, Credit: credit, Product: product}
			moves[k] = m
		}
		m.AmountFen += int64(fen)
		m.Records++
	}
	var clock recordClock
	// The issuer's code as the ledger's accounts name it, for the last
	// issuer seen: a batch's cards are almost all of one issuer.
	var lastIssuer citycard.IssuerCode
	var issuer string
	for i := range j.items {
		it := &j.items[i]
		ra := &ans.Records[i]
		ra.Index = i
		bs.Records++
		if it.reject != "" {
			c.Rejections = append(c.Rejections, Rejection{
				Terminal: j.b.Terminal, BatchID: j.b.ID, Index: i, Reason: it.reject, Detail: it.detail,
				Raw: append([]byte(nil), it.raw...), At: now,
			})
			ra.Verdict, ra.Reasons = Rejected, []string{it.reject, it.detail}
			bs.Rejected++
			continue
		}
		r := &it.rec
		d := a.st.step(r, it.out, a.st.pos+1, u)
		flags := d.flags
		if d.class != ClassDuplicate && it.foreign {
			// The journal's mark of another city's card on every entry of
			// it, its grey records and loads too: the grey decisions an
			// entry makes are pending their issuer by it
			// (PendingIssuerDecided).
			flags |= FlagPendingIssuer
		}
		if d.class != ClassDuplicate {
			if a.cfg.Blacklist != nil && a.cfg.Blacklist.Contains(r.Issuer, r.ASN) {
				flags |= FlagBlacklisted
			}
			if t, err := clock.at(r.Date, r.Time); err == nil && (t.Sub(now) > defaultSkew || now.Sub(t) > defaultMaxAge) {
				flags |= FlagClock
			}
			switch it.fare {
			case FareMismatch:
				flags |= FlagFare
			case FareClockWrong:
				flags |= FlagClock
			}
		}
		a.st.pos++
		e := Journaled{Pos: a.st.pos, Terminal: j.b.Terminal, BatchID: j.b.ID, Outcome: it.out, Class: d.class, Flags: flags}
		copy(e.Raw[:], it.raw)
		c.Entries = append(c.Entries, e)

		if issuer == "" || r.Issuer != lastIssuer {
			lastIssuer, issuer = r.Issuer, r.Issuer.String()
		}
		// The card's money: its float, or, for another city's card, the
		// interconnection receivable of its issuer, which its answer
		// settles or reverses: a grey record of it goes to suspense from
		// there, and is released or reversed back there.
		float := ledger.Account{Type: ledger.CardFloat, Party: issuer}
		if it.foreign {
			float.Type = ledger.InterconnectReceivable
		}
		suspense := ledger.Account{Type: ledger.Suspense, Party: issuer}
		payable := ledger.Account{Type: ledger.OperatorPayable, Party: j.info.Operator}
		switch d.class {
		case ClassBooked:
			move(float, payable, r.Product, r.Amount)
		case ClassSuspense:
			move(float, suspense, r.Product, r.Amount)
		case ClassRecovered:
			move(suspense, payable, r.Product, r.Amount)
		}
		// A grey record of another terminal, confirmed (or its
		// confirmation reversed) by this card's record: its terminal's
		// operator is paid (or repaid). The registry's cache answers from
		// memory almost always.
		operatorOf := func(g *greyRef, what string) (ledger.Account, error) {
			operator := j.info.Operator
			if g.terminal != j.b.Terminal {
				ti, err := a.cfg.Terminals.Terminal(context.Background(), g.terminal)
				if err != nil {
					return ledger.Account{}, citycard.E(op, transientKind(err), "batch %q: the operator of terminal %v, whose grey record this batch %s: %w", j.b.ID, g.terminal, what, err)
				}
				operator = ti.Operator
			}
			return ledger.Account{Type: ledger.OperatorPayable, Party: operator}, nil
		}
		decide := func(m GreyMove, g *greyRef) {
			c.Greys = append(c.Greys, GreyDecision{
				Pos: e.Pos, Index: len(c.Greys) - nGreysOf(c.Greys, e.Pos), Move: m, GreyPos: g.pos, Terminal: g.terminal, Seq: g.seq,
				Issuer: r.Issuer, ASN: r.ASN, Counter: g.counter, CardType: r.CardType, Product: g.product, AmountFen: int64(g.amount),
			})
		}
		for i := range d.confirmed {
			g := &d.confirmed[i]
			payee, err := operatorOf(g, "confirms")
			if err != nil {
				return fail(err)
			}
			move(suspense, payee, g.product, g.amount)
			decide(GreyConfirmed, g)
		}
		for i := range d.released {
			g := &d.released[i]
			move(suspense, float, g.product, g.amount)
			decide(GreyReleased, g)
		}
		for i := range d.reversed {
			// A grey debit confirmed on the balance never happened: its
			// operator gives it back to the card float.
			g := &d.reversed[i]
			payee, err := operatorOf(g, "shows never happened")
			if err != nil {
				return fail(err)
			}
			move(payee, float, g.product, g.amount)
			decide(GreyReversed, g)
		}

		switch {
		case d.class == ClassDuplicate:
			ra.Verdict = Duplicate
			bs.Duplicates++
		case flags != 0:
			ra.Verdict, ra.Reasons = Flagged, flags.Names()
			bs.Flagged++
		default:
			ra.Verdict = Accepted
			bs.Accepted++
		}
	}
	for i := range ans.Records {
		ra := &ans.Records[i]
		ra.Status = ra.Verdict.String()
		switch ra.Verdict {
		case Accepted:
			ans.Accepted++
		case Flagged:
			ans.Flagged++
		case Duplicate:
			ans.Duplicates++
		case Rejected:
			ans.Rejected++
		}
	}
	out := make([]Movement, 0, len(moves))
	for _, m := range moves {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(x, y Movement) int {
		if c := cmp.Compare(x.Debit.String(), y.Debit.String()); c != 0 {
			return c
		}
		if c := cmp.Compare(x.Credit.String(), y.Credit.String()); c != 0 {
			return c
		}
		return cmp.Compare(x.Product, y.Product)
	})
	stats.Records += bs.Records
	stats.Accepted += bs.Accepted
	stats.Flagged += bs.Flagged
	stats.Duplicates += bs.Duplicates
	stats.Rejected += bs.Rejected
	return u, ans, out, nil
}

// newUndo returns an empty undo for a batch of n records, of the next
// epoch, from the free list if it can.
func (a *Acquirer) newUndo(n int) *undo {
	a.epoch++
	if a.epoch == 0 {
		// After 2^32 batches: no shadow may keep an epoch a batch will
		// use again.
		for i := range a.st.shards {
			for _, sh := range a.st.shards[i].cards {
				sh.epoch = 0
			}
		}
		a.epoch = 1
	}
	var u *undo
	if k := len(a.undoFree); k > 0 {
		u, a.undoFree = a.undoFree[k-1], a.undoFree[:k-1]
	} else {
		u = &undo{cards: make([]savedCard, 0, n)}
	}
	u.epoch, u.pos = a.epoch, a.st.pos
	return u
}

// freeUndos keeps the undos of batches that are over for reuse, holding
// no shadow nor a copy of one.
func (a *Acquirer) freeUndos(us ...*undo) {
	for _, u := range us {
		clear(u.cards)
		u.cards, u.created = u.cards[:0], u.created[:0]
		u.apps.reset()
		u.term.saved, u.term.existed, u.term.prev = false, false, track{}
		if len(a.undoFree) < maxGroupBatches {
			a.undoFree = append(a.undoFree, u)
		}
	}
}

// checkpointLocked saves the next part of the state, in turn, at the
// state's position: one shard's encoding stops the sequencer, not the
// whole state's. a.mu is held.
func (a *Acquirer) checkpointLocked(ctx context.Context) error {
	p := a.nextPart % a.st.parts()
	if err := a.cfg.Journal.SaveCheckpoint(ctx, Checkpoint{Part: p, Pos: a.st.pos, Data: a.st.encodePart(p)}); err != nil {
		return err
	}
	a.nextPart = p + 1
	a.sinceCP = 0
	return nil
}

// checkpointAllLocked saves every part, for a quick start next time. a.mu
// is held.
func (a *Acquirer) checkpointAllLocked(ctx context.Context) error {
	if a.stale.Load() || a.st.pos == a.loadedPos {
		// A state that could not be rebuilt is not saved; one with nothing
		// new since it was loaded need not be.
		return nil
	}
	for p := 0; p < a.st.parts(); p++ {
		if err := a.cfg.Journal.SaveCheckpoint(ctx, Checkpoint{Part: p, Pos: a.st.pos, Data: a.st.encodePart(p)}); err != nil {
			return err
		}
	}
	a.sinceCP = 0
	return nil
}

// Shadows calls fn for each card shadow, under the state's lock, in no
// order: its booked balance (loads seen - purchases booked) and its grey
// records in suspense, summed (not in the booked balance). The float
// report sums them per issuer and card product. fn must not call the
// Acquirer.
func (a *Acquirer) Shadows(fn func(issuer citycard.IssuerCode, asn citycard.ASN, bookedFen, suspenseFen int64)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.st.shards {
		for id, c := range a.st.shards[i].cards {
			var suspense int64
			for _, g := range c.greyList() {
				if !g.confirmed {
					suspense += int64(g.amount)
				}
			}
			fn(id.issuer, id.asn, c.booked, suspense)
		}
	}
}

// IssuerFloat is the sum over one issuer's card shadows.
type IssuerFloat struct {
	Issuer      citycard.IssuerCode
	Cards       int64 // cards with a shadow
	BookedFen   int64 // their booked balances summed: loads seen - purchases booked
	SuspenseFen int64 // their grey records in suspense, summed (not in BookedFen)
}

// Float sums the card shadows per issuer, under the state's lock, by
// issuer code. It is what the float report (citycard float) reconciles
// against the ledger's card float.
func (a *Acquirer) Float() []IssuerFloat {
	m := map[citycard.IssuerCode]*IssuerFloat{}
	a.Shadows(func(issuer citycard.IssuerCode, _ citycard.ASN, bookedFen, suspenseFen int64) {
		f := m[issuer]
		if f == nil {
			f = &IssuerFloat{Issuer: issuer}
			m[issuer] = f
		}
		f.Cards++
		f.BookedFen += bookedFen
		f.SuspenseFen += suspenseFen
	})
	out := make([]IssuerFloat, 0, len(m))
	for _, f := range m {
		out = append(out, *f)
	}
	slices.SortFunc(out, func(x, y IssuerFloat) int { return bytes.Compare(x.Issuer[:], y.Issuer[:]) })
	return out
}
