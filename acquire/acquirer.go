package acquire

import (
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
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
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

	mu        sync.Mutex // guards st and the counters below
	st        *state
	sinceCP   int64 // records journaled since the last part's checkpoint
	nextPart  int   // the part the next checkpoint saves
	loadedPos int64 // the position the state was loaded at
	broken    bool  // a rebuild after a failed commit failed: refuse batches
	stats     Stats

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
	// Replayed is how many journal entries the start replayed, and
	// ReplayTime how long loading the checkpoint and replaying took.
	Replayed   int64
	ReplayTime time.Duration
	Cards      int64 // cards with a shadow, now
}

type job struct {
	ctx   context.Context
	b     Batch
	hash  [32]byte
	items []item
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
	// fareMismatch: the fare rules price the record otherwise.
	fareMismatch bool
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
	err = a.cfg.Journal.Replay(ctx, from, func(e *Entry) error {
		if e.Pos != prev+1 {
			return citycard.E(op, citycard.Invalid, "journal position %d follows %d", e.Pos, prev)
		}
		prev = e.Pos
		rec, err := record.DecodeBinary(e.Raw[:])
		if err != nil {
			return citycard.E(op, citycard.Invalid, "journal entry %d: %w", e.Pos, err)
		}
		if e.Pos > partPos[Shard(rec.Issuer, rec.ASN, len(st.shards))] {
			if d := st.stepCard(&rec, e.Outcome); d.kind != e.Kind {
				return citycard.E(op, citycard.Invalid, "journal entry %d replays as kind %d, recorded %d: the journal or the state code changed", e.Pos, d.kind, e.Kind)
			}
		}
		if e.Pos > partPos[terms] && termPart(e.Kind) {
			st.stepTerminal(&rec)
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
// it refuses them (kind Unavailable): it is closing, or a rebuild of its
// state after a failed commit failed, so that it cannot decide records.
// A server's health check answers with it.
func (a *Acquirer) Health() error {
	const op = "acquire.Health"
	a.mu.Lock()
	broken := a.broken
	a.mu.Unlock()
	if broken {
		return citycard.E(op, citycard.Unavailable, "the state could not be rebuilt from the journal after a failed commit: batches are refused until restart")
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
		BookedFen: c.booked, GreysPending: len(c.greys), LoadsSinceFen: c.loadsSince,
	}
	for _, g := range c.offline.spans() {
		s.OpenGaps += int(g.hi - g.lo + 1)
		s.GapSpans = append(s.GapSpans, [2]uint32{g.lo, g.hi})
	}
	for _, g := range c.greys {
		s.SuspenseFen += int64(g.amount)
	}
	return s, true
}

// Submit verifies the batch, has the sequencer classify and journal it,
// and returns the answer per record. A batch committed before is answered
// from the journal (Answer.Repeat). Kind Invalid refuses the batch whole
// (malformed, header totals wrong: nothing of it is kept); kind Conflict
// for a batch ID reused with other content; kind Unavailable for an
// acquirer that is closed or cannot decide (see Health); other errors (IO)
// mean nothing was committed and the upload should be retried.
func (a *Acquirer) Submit(ctx context.Context, b Batch) (Answer, error) {
	const op = "acquire.Submit"
	if err := checkBatch(&b); err != nil {
		return Answer{}, citycard.Wrap(op, citycard.Invalid, err)
	}
	// Whether the batch was committed before is asked once, by the
	// sequencer, where the answer cannot change under it; a repeat costs
	// its verification, a rare waste, where asking here too would cost
	// every batch a second read.
	j := &job{ctx: ctx, b: b, hash: batchHash(&b), items: a.verify(b.Body), reply: make(chan jobResult, 1)}
	if err := a.Health(); err != nil {
		return Answer{}, citycard.Wrap(op, citycard.Other, err)
	}
	a.gate.RLock()
	if a.closing {
		a.gate.RUnlock()
		return Answer{}, citycard.E(op, citycard.Unavailable, "acquirer closed")
	}
	select {
	case a.jobs <- j:
		a.gate.RUnlock()
	case <-ctx.Done():
		a.gate.RUnlock()
		return Answer{}, citycard.E(op, citycard.IO, "batch %q not submitted: %w", b.ID, ctx.Err())
	}
	// Once submitted the batch is processed whatever happens to ctx: a
	// terminal that gave up re-uploads and gets the stored answer.
	r := <-j.reply
	return r.ans, r.err
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
	if len(b.Body)%record.Size != 0 {
		return fmt.Errorf("batch %q: body of %d bytes is not a whole number of %d-byte records (truncated upload?)", b.ID, len(b.Body), record.Size)
	}
	n := len(b.Body) / record.Size
	if n > MaxBatchRecords {
		return fmt.Errorf("batch %q: %d records, at most %d", b.ID, n, MaxBatchRecords)
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

// verify decodes and verifies every record, on up to Workers goroutines.
func (a *Acquirer) verify(body []byte) []item {
	n := len(body) / record.Size
	items := make([]item, n)
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
				a.verifyOne(&items[i], body[i*record.Size:(i+1)*record.Size])
			}
		}()
	}
	wg.Wait()
	return items
}

func (a *Acquirer) verifyOne(it *item, raw []byte) {
	it.raw = raw
	rec, err := record.DecodeBinary(raw)
	if err != nil {
		it.reject, it.detail = RejectUndecodable, err.Error()
		return
	}
	it.rec = rec
	err = a.cfg.Verifier.Verify(&it.rec)
	switch {
	case err == nil:
		it.out = OutcomeVerified
		if a.cfg.Fares != nil && rec.Type == keys.TxCompositePurchase {
			checked, match := a.cfg.Fares.Recheck(&it.rec)
			it.fareMismatch = checked && !match
		}
	case record.IsPendingIssuer(err):
		it.out = OutcomePendingIssuer
	case rec.Status == record.StatusGrey && citycard.IsKind(err, citycard.Invalid):
		// The record MAC verified; a grey record has no TAC to check.
		it.out = OutcomeGrey
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
	a.processLocked(group)
}

// processLocked is process with a.mu held.
func (a *Acquirer) processLocked(group []*job) {
	const op = "acquire.process"
	ctx := context.Background()
	now := a.cfg.Now()

	c := &Commit{At: now}
	answers := make([]*Answer, len(group))
	errs := make([]error, len(group))
	first := map[string]int{} // batch key -> index in group of its first job
	pos := a.st.pos
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
		if sb, ok, err := a.cfg.Journal.Batch(ctx, j.b.Terminal, j.b.ID); err != nil {
			errs[gi] = citycard.Wrap(op, citycard.IO, err)
			continue
		} else if ok {
			ans, err := repeatAnswer(op, &sb, j.hash)
			answers[gi], errs[gi] = &ans, err
			continue
		}
		ans, moves := a.classify(j, now, &pos, c, &stats)
		body, err := json.Marshal(ans)
		if err != nil {
			panic("acquire: marshal answer: " + err.Error())
		}
		c.Batches = append(c.Batches, StoredBatch{Terminal: j.b.Terminal, ID: j.b.ID, Hash: j.hash, Answer: body, At: now})
		c.Movements = append(c.Movements, moves)
		answers[gi] = ans
	}

	if len(c.Batches) > 0 {
		if err := a.cfg.Journal.Commit(ctx, c); err != nil {
			a.cfg.Logger.Error("acquire: commit failed; rebuilding state from the journal", "batches", len(c.Batches), "err", err)
			if st, _, lerr := a.load(ctx); lerr != nil {
				a.cfg.Logger.Error("acquire: rebuild failed; the acquirer refuses batches", "err", lerr)
				a.broken = true
			} else {
				a.st = st
				if len(group) > 1 {
					// One batch may be what failed: commit each alone, so
					// that it fails alone and does not take its group with
					// it at every retry.
					for _, j := range group {
						a.processLocked([]*job{j})
					}
					return
				}
			}
			for gi := range group {
				if answers[gi] != nil && !answers[gi].Repeat {
					answers[gi], errs[gi] = nil, citycard.Wrap(op, citycard.IO, err)
				}
			}
			a.reply(group, answers, errs)
			return
		}
		a.st.pos = pos
		a.sinceCP += int64(len(c.Entries))
		stats.Commits = 1
		stats.Batches = int64(len(c.Batches))
		a.addStats(&stats)
		if a.sinceCP >= max(1, a.cfg.CheckpointEvery/int64(a.st.parts())) {
			if err := a.checkpointLocked(ctx); err != nil {
				a.cfg.Logger.Error("acquire: checkpoint failed", "err", err)
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
// journal entries and rejections to c, and returns the answer and the
// batch's aggregated movements.
func (a *Acquirer) classify(j *job, now time.Time, pos *int64, c *Commit, stats *Stats) (*Answer, []Movement) {
	ans := &Answer{Terminal: j.b.Terminal.String(), BatchID: j.b.ID, Records: make([]RecordAnswer, len(j.items))}
	info, known := a.cfg.Terminals.Terminal(j.b.Terminal)
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
	operatorOf := func(t citycard.TerminalID) string {
		if t == j.b.Terminal {
			return info.Operator
		}
		ti, _ := a.cfg.Terminals.Terminal(t)
		return ti.Operator
	}
	for i := range j.items {
		it := &j.items[i]
		ra := &ans.Records[i]
		ra.Index = i
		stats.Records++
		if it.reject == "" {
			switch {
			case !known:
				it.reject, it.detail = RejectUnknownTerminal, "terminal "+j.b.Terminal.String()+" is not registered"
			case !info.Active:
				it.reject, it.detail = RejectInactive, "terminal "+j.b.Terminal.String()+" is not active"
			case it.rec.TerminalID != j.b.Terminal:
				it.reject, it.detail = RejectWrongTerminal, "record of terminal "+it.rec.TerminalID.String()+" uploaded by "+j.b.Terminal.String()
			case it.rec.PSAMID != info.PSAM:
				it.reject, it.detail = RejectPSAM, "PSAM "+it.rec.PSAMID.String()+" is not the terminal's ("+info.PSAM.String()+")"
			}
		}
		if it.reject != "" {
			c.Rejections = append(c.Rejections, Rejection{
				Terminal: j.b.Terminal, BatchID: j.b.ID, Index: i, Reason: it.reject, Detail: it.detail,
				Raw: append([]byte(nil), it.raw...), At: now,
			})
			ra.Verdict, ra.Reasons = Rejected, []string{it.reject, it.detail}
			stats.Rejected++
			continue
		}
		r := &it.rec
		d := a.st.step(r, it.out)
		flags := d.flags
		if d.kind != KindDuplicate {
			if a.cfg.Blacklist != nil && a.cfg.Blacklist.Contains(r.Issuer, r.ASN) {
				flags |= FlagBlacklisted
			}
			if t, err := keys.Time(r.Date, r.Time, citycard.ChinaTime); err == nil && (t.Sub(now) > defaultSkew || now.Sub(t) > defaultMaxAge) {
				flags |= FlagClock
			}
			if it.fareMismatch {
				flags |= FlagFare
			}
		}
		*pos++
		e := Entry{Pos: *pos, Terminal: j.b.Terminal, BatchID: j.b.ID, Outcome: it.out, Kind: d.kind, Flags: flags}
		copy(e.Raw[:], it.raw)
		c.Entries = append(c.Entries, e)

		issuer := r.Issuer.String()
		float := ledger.Account{Kind: ledger.CardFloat, Party: issuer}
		suspense := ledger.Account{Kind: ledger.Suspense, Party: issuer}
		payable := ledger.Account{Kind: ledger.OperatorPayable, Party: info.Operator}
		switch d.kind {
		case KindBooked:
			from := float
			if it.out == OutcomePendingIssuer {
				from = ledger.Account{Kind: ledger.InterconnectReceivable, Party: issuer}
			}
			move(from, payable, r.Product, r.Amount)
		case KindSuspense:
			move(float, suspense, r.Product, r.Amount)
		case KindRecovered:
			move(suspense, payable, r.Product, r.Amount)
		}
		for _, g := range d.confirmed {
			move(suspense, ledger.Account{Kind: ledger.OperatorPayable, Party: operatorOf(g.terminal)}, g.product, g.amount)
		}
		for _, g := range d.released {
			move(suspense, float, g.product, g.amount)
		}

		switch {
		case d.kind == KindDuplicate:
			ra.Verdict = Duplicate
			stats.Duplicates++
		case flags != 0:
			ra.Verdict, ra.Reasons = Flagged, flags.Names()
			stats.Flagged++
		default:
			ra.Verdict = Accepted
			stats.Accepted++
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
	return ans, out
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
	if a.broken || a.st.pos == a.loadedPos {
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
