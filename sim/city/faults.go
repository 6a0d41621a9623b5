package city

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

// Fault rates.
const (
	tearPM        = 3  // per mille of purchases torn at DEBIT
	tearRetryPct  = 70 // percent of riders who tap again at once after a tear
	forgePerTaps  = 2000
	alterPerTaps  = 2000
	duplicatePct  = 3  // percent of batches sent again
	reorderPct    = 3  // percent of batches preceded by a shuffled copy
	dbTransientPM = 20 // per mille of the journal's calls that fail
)

// skews are the clock errors a skewed terminal may have.
var skews = []time.Duration{25 * time.Minute, 3 * time.Hour, -6 * time.Hour, -50 * 24 * time.Hour}

// faultyJournal is the store's journal with the database's faults in
// front of it: now and then a call fails transiently (busy, a dropped
// connection), a commit among them either refused or committed with its
// answer lost; and the crash, at an armed commit, before or after it goes
// through, after which every call fails until the back office restarts
// (its next Start gives it the reopened store's journal).
//
// A crash at the journal is what kill -9 leaves at the store: SQLite or
// PostgreSQL commits a transaction whole or not at all, so whatever the
// instant of the kill, the store holds every commit up to some batch and
// none after, and the batch in flight is either in or out, its answer
// never sent. The simulator crashes the back office in process at a
// commit drawn from the seed, rather than killing a child process at a
// time the scheduler picks, so that a run replays from its seed byte for
// byte; cmd/citycard's serve test kills a real process with SIGKILL.
type faultyJournal struct {
	mu          sync.Mutex
	inner       acquire.Journal
	rng         *rand.Rand
	transientPM int
	crashIn     int // commits until the crash; 0: none armed
	crashAfter  bool
	dead        bool
	transients  int64 // calls failed transiently
	lost        int64 // commits that went through with their answer lost
	crashes     int64
}

var errCrashed = citycard.E("city.faultyJournal", citycard.Unavailable, "simulated crash: the back office is dead")

func (j *faultyJournal) wrap(inner acquire.Journal) acquire.Journal {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.inner, j.dead = inner, false
	return j
}

// isDead reports whether the armed crash happened since the last wrap.
func (j *faultyJournal) isDead() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.dead
}

// arm crashes the back office at its n-th commit from now; after says
// whether that commit goes through first.
func (j *faultyJournal) arm(n int, after bool) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.crashIn, j.crashAfter = n, after
}

func (j *faultyJournal) setTransient(pm int) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.transientPM = pm
}

// fail reports (holding mu) whether this call fails transiently.
func (j *faultyJournal) fail() bool {
	if j.transientPM == 0 || j.rng.IntN(1000) >= j.transientPM {
		return false
	}
	j.transients++
	return true
}

func transientErr(what string) error {
	return citycard.E("city.faultyJournal", citycard.IO, "simulated database fault: %s", what)
}

func (j *faultyJournal) Batch(ctx context.Context, t citycard.TerminalID, id string) (acquire.StoredBatch, bool, error) {
	j.mu.Lock()
	if j.dead {
		j.mu.Unlock()
		return acquire.StoredBatch{}, false, errCrashed
	}
	fail := j.fail()
	j.mu.Unlock()
	if fail {
		return acquire.StoredBatch{}, false, transientErr("busy")
	}
	return j.inner.Batch(ctx, t, id)
}

func (j *faultyJournal) Commit(ctx context.Context, c *acquire.Commit) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.dead {
		return errCrashed
	}
	if j.crashIn > 0 {
		j.crashIn--
		if j.crashIn == 0 {
			j.dead = true
			j.crashes++
			if j.crashAfter {
				// Committed, and the process dies before it answers. An
				// error of the commit itself changes nothing: dead anyway.
				_ = j.inner.Commit(ctx, c)
			}
			return errCrashed
		}
	}
	if !j.fail() {
		return j.inner.Commit(ctx, c)
	}
	if j.rng.IntN(2) == 0 {
		return transientErr("commit refused")
	}
	if err := j.inner.Commit(ctx, c); err != nil {
		return err
	}
	j.lost++
	return transientErr("the connection dropped after COMMIT")
}

func (j *faultyJournal) LastPos(ctx context.Context) (int64, error) {
	j.mu.Lock()
	if j.dead {
		j.mu.Unlock()
		return 0, errCrashed
	}
	fail := j.fail()
	j.mu.Unlock()
	if fail {
		return 0, transientErr("busy")
	}
	return j.inner.LastPos(ctx)
}

func (j *faultyJournal) alive() (acquire.Journal, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.dead {
		return nil, errCrashed
	}
	return j.inner, nil
}

func (j *faultyJournal) Replay(ctx context.Context, from int64, fn func(e *acquire.Journaled) error) error {
	in, err := j.alive()
	if err != nil {
		return err
	}
	return in.Replay(ctx, from, fn)
}

func (j *faultyJournal) SaveCheckpoint(ctx context.Context, cp acquire.Checkpoint) error {
	in, err := j.alive()
	if err != nil {
		return err
	}
	return in.SaveCheckpoint(ctx, cp)
}

func (j *faultyJournal) LoadCheckpoints(ctx context.Context) ([]acquire.Checkpoint, error) {
	in, err := j.alive()
	if err != nil {
		return nil, err
	}
	return in.LoadCheckpoints(ctx)
}

func (j *faultyJournal) BatchRecords(ctx context.Context, t citycard.TerminalID, id string, fn func(e *acquire.Journaled) error) error {
	in, err := j.alive()
	if err != nil {
		return err
	}
	return in.BatchRecords(ctx, t, id, fn)
}

func (j *faultyJournal) QueryRejections(ctx context.Context, f acquire.RejectionFilter) ([]acquire.PositionedRejection, error) {
	in, err := j.alive()
	if err != nil {
		return nil, err
	}
	return in.QueryRejections(ctx, f)
}

// setFaultsOfWorld sets what is wrong with the city from its first day:
// the skewed clocks, the database's transient faults.
func (c *City) setFaultsOfWorld() {
	rng := rngFor(c.cfg.Seed, "faults-world")
	if c.cfg.has(FaultSkew) {
		for k := 0; k < max(1, len(c.devs)/100); k++ {
			d := c.devs[rng.IntN(len(c.devs))]
			if d.skew == 0 && d.kind != devBikeDock { // a dock prices a rental by its clock: right (bikes.go)
				d.skew = skews[rng.IntN(len(skews))]
				c.fault(FaultSkew)
			}
		}
	}
	if c.cfg.has(FaultDB) {
		c.fj.setTransient(dbTransientPM)
	}
}

// planFaults draws the day's faults: terminals going offline, cards
// reported lost, a crash of the back office.
func (c *City) planFaults(p *planner) {
	rng := rngFor(c.cfg.Seed, "faults-day", uint64(p.day))
	if c.cfg.has(FaultOffline) {
		for k := 0; k < max(1, len(c.devs)/50); k++ {
			d := c.devs[rng.IntN(len(c.devs))]
			p.add(p.between(360, 1320), evOffline, 0, -1, -1, int32(d.idx), uint32(24+rng.IntN(49)))
		}
	}
	if c.cfg.has(FaultLost) {
		for k := 0; k < max(1, c.cfg.Cards/2000); k++ {
			ri := rng.IntN(len(c.riders))
			if c.riders[ri].registered { // only a registered card is reported lost
				p.add(int64(480+rng.IntN(600))*60, evReportLost, 0, int32(ri), -1, 0, 0)
			}
		}
		c.planLostTraveller(p)
	}
	if c.cfg.has(FaultCrash) {
		p.add(int64(540+rng.IntN(840))*60, evArmCrash, 0, -1, -1, int32(1+rng.IntN(3)), uint32(rng.IntN(2)))
	}
}

// planLostTraveller has one of the registered cards that travelled
// before today reported lost (when any), with a stream of its own: so
// few riders travel that the day's draw of lost cards all but never
// finds one, and a card lost after spending in another city is the case
// where its balance as of the report must be its book less its
// purchases elsewhere (api.ShadowBalances' Elsewhere), lest the
// replacement or the refund pay them back.
func (c *City) planLostTraveller(p *planner) {
	var travelled []int32
	for ri, r := range c.riders {
		if r.travelled && r.registered && r.lostOn < 0 && r.refundedOn < 0 && r.replacedBy == -1 {
			travelled = append(travelled, int32(ri))
		}
	}
	if len(travelled) == 0 {
		return
	}
	rng := rngFor(c.cfg.Seed, "faults-lost-travelled", uint64(p.day))
	p.add(int64(480+rng.IntN(600))*60, evReportLost, 0, travelled[rng.IntN(len(travelled))], -1, 0, 0)
}

// fault counts one injected fault.
func (c *City) fault(f Fault) { c.faults[string(f)]++ }

// injectAfterTap puts a forged record or an altered copy of rec in d's
// queue now and then, as a tampered terminal would.
func (c *City) injectAfterTap(d *device, rec *record.Record) {
	if c.cfg.has(FaultForge) && rec.Issuer == Issuer && c.frng.IntN(forgePerTaps) == 0 {
		// Sealed by the terminal's own PSAM (the record MAC verifies) but
		// made by no card: the TAC is made up. A visiting card's record is
		// left alone: its TAC is its issuer's to verify (not yet).
		f := *rec
		f.Amount += 500
		f.BalanceBefore += 500
		f.TAC = [4]byte{byte(c.frng.UintN(256)), byte(c.frng.UintN(256)), byte(c.frng.UintN(256)), byte(c.frng.UintN(256))}
		cmd := apdu.Command{CLA: 0x80, INS: 0xFA, P1: 0x05, Data: f.MACData(), Le: 4}
		b, err := d.psam.Transmit(cmd.Encode())
		if err != nil || len(b) != 6 {
			c.violate("forging a record on terminal %v: the PSAM answered %X, %v", d.id, b, err)
			return
		}
		copy(f.RecordMAC[:], b[:4])
		c.inject(d, &f, recForged, FaultForge)
	}
	if c.cfg.has(FaultAlter) && c.frng.IntN(alterPerTaps) == 0 {
		a := *rec
		a.Amount++ // after sealing: the record MAC no longer covers it
		c.inject(d, &a, recAltered, FaultAlter)
	}
}

func (c *City) inject(d *device, r *record.Record, kind recKind, f Fault) {
	raw, err := r.MarshalBinary()
	if err != nil {
		c.violate("terminal %v: encoding a %v record: %v", d.id, f, err)
		return
	}
	if _, err := d.queue.Append(raw); err != nil {
		c.violate("terminal %v: queueing a %v record: %v", d.id, f, err)
		return
	}
	c.addRec(simRec{hash: hashRec(raw), dev: int32(d.idx), card: -1, seq: r.TerminalSeq, amount: r.Amount, status: r.Status, typ: r.Type, kind: kind})
	c.fault(f)
}

// sender is a terminal's Sender: the HTTP link, with the upload faults
// in front, keeping every answer for the checks.
type sender struct {
	c *City
	d *device
}

func (s *sender) SendBatch(ctx context.Context, b terminal.UploadBatch) ([]bool, error) {
	const op = "city.sender"
	c, d := s.c, s.d
	if c.cfg.has(FaultReorder) && len(b.Records) > 1 && c.frng.IntN(100) < reorderPct {
		cp := slices.Clone(b.Records)
		c.frng.Shuffle(len(cp), func(i, j int) { cp[i], cp[j] = cp[j], cp[i] })
		c.sendCopy(ctx, d, "reorder", cp)
		c.fault(FaultReorder)
		if c.fj.isDead() {
			return nil, citycard.E(op, citycard.Unavailable, "the back office is down")
		}
	}
	ans, err := d.link.Upload(ctx, b)
	if err != nil {
		return nil, err
	}
	if len(ans.Records) != len(b.Records) {
		return nil, citycard.E(op, citycard.IO, "batch %s: %d answers for %d records", b.ID, len(ans.Records), len(b.Records))
	}
	c.noteAnswers(d, b.Records, &ans, false)
	if c.cfg.has(FaultDuplicate) && c.frng.IntN(100) < duplicatePct {
		c.fault(FaultDuplicate)
		if c.frng.IntN(2) == 0 {
			// The same batch again: the stored answer, verdict for verdict.
			again, err := d.link.Upload(ctx, b)
			if err == nil {
				c.fig.Copies.Repeats++
				if !again.Repeat || !sameVerdicts(&ans, &again) {
					c.violate("terminal %v batch %s sent again: answered anew (repeat %v) or otherwise than the first time", d.id, b.ID, again.Repeat)
				}
			}
		} else {
			c.sendCopy(ctx, d, "dup", b.Records)
		}
	}
	out := make([]bool, len(ans.Records))
	for i, ra := range ans.Records {
		out[i] = ra.Verdict != 0
	}
	return out, nil
}

func sameVerdicts(a, b *acquire.Answer) bool {
	return slices.EqualFunc(a.Records, b.Records, func(x, y acquire.RecordAnswer) bool { return x.Verdict == y.Verdict })
}

// sendCopy uploads recs again under a batch ID of the simulator's own: a
// copy whose answers are checked, never the terminal's to drop.
func (c *City) sendCopy(ctx context.Context, d *device, kind string, recs [][]byte) {
	c.copies++
	b := terminal.UploadBatch{Terminal: d.id, ID: fmt.Sprintf("sim-%s-%d", kind, c.copies), Records: recs}
	for _, r := range recs {
		fen, _ := record.AmountOf(r)
		b.AmountFen += int64(fen)
	}
	ans, err := d.link.Upload(ctx, b)
	if err != nil || len(ans.Records) != len(recs) {
		return // a copy lost on the way: nothing to check
	}
	c.fig.Copies.Batches++
	c.noteAnswers(d, recs, &ans, true)
}
