package city

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/record"
)

// The staff who clear each day: one runs the cycle, one reviews it, a
// second approves it (clearing refuses the reviewer), one closes it.
const (
	staffRun     = "sim-clearing-clerk"
	staffReview  = "sim-reviewer"
	staffApprove = "sim-approver"
	staffClose   = "sim-clearing-clerk"
)

// settleSteps bounds the moves (and restarts) one day's settlement may
// take: run, review, approve, close and the files are five.
const settleSteps = 20

// cycleRun is what the city keeps of a cycle it cleared.
type cycleRun struct {
	day     clearing.Day
	crashes int    // crashes mid-clearing it went through
	crashAt string // where the crash was armed, "" for none
}

// taken is what the cycles took of one journal position (index pos-1):
// the class and outcome as clearing was given them, the cycle, the
// commit time.
type taken struct {
	ok         bool
	class      acquire.Class
	outcome    acquire.Outcome
	cycle      int32 // index into City.cycles
	acceptedAt int64 // Unix nanoseconds
}

// clearCrash is the crash mid-clearing armed for the cycle being
// cleared: in the middle of gathering its records (at the gathered
// record drawn from the claim's length), or at a save of the cycle (its
// n-th from now), before or after that save goes through.
type clearCrash struct {
	armed      bool
	inGather   bool
	gatherFrac float64 // where in the claim's range the gather dies
	saveIn     int     // saves until the crash (1 the next)
	after      bool
}

// clearTap sits in front of the back office's clearing (its Store and
// the Journal it reads): it keeps what the cycles took, crashes where
// clearCrash says, and drops a record when the test hook asks.
type clearTap struct {
	c     *City
	store clearing.Store
	j     clearing.Journal
	dead  bool
}

var errClearCrashed = citycard.E("city.clearTap", citycard.Unavailable, "simulated crash mid-clearing: the back office is dead")

func (t *clearTap) Cycle(ctx context.Context, d clearing.Day) (clearing.Stored, error) {
	if t.dead {
		return clearing.Stored{}, errClearCrashed
	}
	return t.store.Cycle(ctx, d)
}

func (t *clearTap) Before(ctx context.Context, d clearing.Day) (clearing.Stored, bool, error) {
	if t.dead {
		return clearing.Stored{}, false, errClearCrashed
	}
	return t.store.Before(ctx, d)
}

func (t *clearTap) Save(ctx context.Context, s *clearing.Stored, was clearing.State) error {
	if t.dead {
		return errClearCrashed
	}
	cr := &t.c.crash
	if cr.armed && !cr.inGather {
		if cr.saveIn--; cr.saveIn == 0 {
			cr.armed = false
			if cr.after {
				if err := t.store.Save(ctx, s, was); err != nil {
					return err
				}
			}
			return t.die()
		}
	}
	return t.store.Save(ctx, s, was)
}

func (t *clearTap) die() error {
	t.dead = true
	t.c.fj.kill()
	return errClearCrashed
}

func (t *clearTap) Claim(ctx context.Context, from int64, before time.Time) (clearing.Claim, error) {
	if t.dead {
		return clearing.Claim{}, errClearCrashed
	}
	return t.j.Claim(ctx, from, before)
}

func (t *clearTap) Records(ctx context.Context, r clearing.Range, fn func(e *acquire.Journaled, at time.Time) error) error {
	if t.dead {
		return errClearCrashed
	}
	c := t.c
	cr := &c.crash
	dieAt := int64(-1)
	if cr.armed && cr.inGather {
		dieAt = int64(cr.gatherFrac * float64(r.Len()))
		cr.armed = false
	}
	var n int64
	ci := int32(len(c.cycles) - 1)
	return t.j.Records(ctx, r, func(e *acquire.Journaled, at time.Time) error {
		if n == dieAt {
			return t.die()
		}
		n++
		if c.cfg.DropClearedRecord && !c.dropped && e.Class == acquire.ClassBooked && e.Outcome != acquire.OutcomePendingIssuer && paysFen(e) > 0 {
			// The broken-invariant hook: clearing is handed this booked
			// record as a duplicate, so that no cycle pays its operator.
			c.dropped = true
			cp := *e
			cp.Class = acquire.ClassDuplicate
			e = &cp
		}
		c.take(e, at, ci)
		return fn(e, at)
	})
}

func (t *clearTap) Greys(ctx context.Context, r clearing.Range, fn func(g *acquire.GreyDecision) error) error {
	if t.dead {
		return errClearCrashed
	}
	return t.j.Greys(ctx, r, fn)
}

// paysFen is the amount of e's record.
func paysFen(e *acquire.Journaled) uint32 {
	fen, _ := record.AmountOf(e.Raw[:])
	return fen
}

// take notes that cycle ci was given journal entry e, committed at at;
// a recompute notes it again.
func (c *City) take(e *acquire.Journaled, at time.Time, ci int32) {
	i := int(e.Pos - 1)
	for len(c.taken) <= i {
		c.taken = append(c.taken, taken{})
	}
	c.taken[i] = taken{ok: true, class: e.Class, outcome: e.Outcome, cycle: ci, acceptedAt: at.UnixNano()}
}

// String names where the crash is armed.
func (cr clearCrash) String() string {
	switch {
	case !cr.armed:
		return ""
	case cr.inGather:
		return fmt.Sprintf("gathering its records (%.0f%% in)", 100*cr.gatherFrac)
	case cr.after:
		return "after saving it " + savedStates[cr.saveIn-1]
	}
	return "before saving it " + savedStates[cr.saveIn-1]
}

// savedStates are the states a cycle's saves leave it in, in order.
var savedStates = [...]string{"computed", "reviewed", "approved", "closed"}

// armClearCrash draws the crash mid-clearing of cycle n (the n-th the
// city clears), if the fault is on.
func (c *City) armClearCrash(n int) {
	c.crash = clearCrash{}
	if !c.cfg.has(FaultCrashClearing) {
		return
	}
	defer func() { c.cycles[n-1].crashAt = c.crash.String() }()
	// The points rotate from one drawn from the seed, so that any nine
	// cycles in a row crash at all nine.
	rng := rngFor(c.cfg.Seed, "faults-clearing", uint64(n))
	point := (rngFor(c.cfg.Seed, "faults-clearing").IntN(clearCrashPoints) + n) % clearCrashPoints
	if point == 0 {
		c.crash = clearCrash{armed: true, inGather: true, gatherFrac: rng.Float64()}
		return
	}
	// The saves of a cycle: computed, reviewed, approved, closed.
	c.crash = clearCrash{armed: true, saveIn: (point + 1) / 2, after: point%2 == 0}
}

// clearCrashPoints are the points a crash mid-clearing is armed at:
// gathering, and before and after each of a cycle's four saves.
const clearCrashPoints = 1 + 2*len(savedStates)

// clearDay clears and settles business day d at its cut-off: the cycle
// run, reviewed by one person, approved by another and closed, its
// settlement files written; through a crash mid-clearing when the fault
// is on, after which the restarted back office resumes the cycle from
// the state its store kept.
func (c *City) clearDay(ctx context.Context, d clearing.Day) {
	cal := clearing.DefaultCalendar()
	c.setNow(cal.End(d))
	c.cycles = append(c.cycles, cycleRun{day: d})
	cr := &c.cycles[len(c.cycles)-1]
	c.armClearCrash(len(c.cycles))
	for step := 0; step < settleSteps; step++ {
		tap, done, err := c.settleStep(ctx, d)
		if tap != nil && tap.dead {
			cr.crashes++
			c.restartAfter(ctx, FaultCrashClearing)
			continue
		}
		if err != nil {
			c.violate("clearing cycle %v: %v", d, err)
			return
		}
		if done {
			return
		}
	}
	c.violate("clearing cycle %v: not closed and settled after %d steps", d, settleSteps)
}

// settleStep makes the next move of day d's cycle from the state its
// store holds (so that a restart resumes where the crash left it): run
// it, review it, approve it, close it, then write its files; done once
// the files are written. The tap it went through is returned, to tell a
// crash.
func (c *City) settleStep(ctx context.Context, d clearing.Day) (*clearTap, bool, error) {
	cs, parties, err := c.bo.Clearing(ctx)
	if err != nil {
		return nil, false, err
	}
	tap := &clearTap{c: c, store: cs.Store, j: cs.Journal}
	w := *cs
	w.Store, w.Journal = tap, tap
	s, err := w.Cycle(ctx, d)
	switch {
	case citycard.IsKind(err, citycard.NotFound):
		_, err = w.Run(ctx, d, staffRun)
		return tap, false, err
	case err != nil:
		return tap, false, err
	}
	switch s.Cycle.State {
	case clearing.Opened:
		_, err = w.Run(ctx, d, staffRun)
	case clearing.Computed:
		_, err = w.Approve(ctx, d, staffReview)
	case clearing.Reviewed:
		_, err = w.Approve(ctx, d, staffApprove)
	case clearing.Approved:
		_, err = w.Close(ctx, d, staffClose, exchange.CloseFiles(parties))
	case clearing.Closed:
		return tap, true, c.writeFiles(&s, parties)
	default:
		return tap, false, fmt.Errorf("cycle %v is %v", d, s.Cycle.State)
	}
	return tap, false, err
}

// settleDir is where the cycles' settlement files go.
func (c *City) settleDir() string {
	if c.cfg.SettleDir != "" {
		return c.cfg.SettleDir
	}
	return filepath.Join(c.cfg.Dir, "settlement")
}

// writeFiles writes closed cycle s's settlement files, made again from
// its stored result and close time and checked against the hashes kept
// at close (as citycard settle files does).
func (c *City) writeFiles(s *clearing.Stored, parties map[string]exchange.Party) error {
	fs, err := exchange.Files(&s.Cycle, s.Result, parties)
	if err != nil {
		return err
	}
	if err := sameFiles(s, fs); err != nil {
		return err
	}
	dir := c.settleDir()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range fs {
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// sameFiles checks fs against the hashes s kept at close.
func sameFiles(s *clearing.Stored, fs []exchange.SettlementFile) error {
	if len(fs) != len(s.Files) {
		return fmt.Errorf("cycle %v: %d files made, %d kept at close", s.Cycle.Day, len(fs), len(s.Files))
	}
	return exchange.CheckKept(s, fs)
}

// kill makes the journal dead, as a crash elsewhere in the back office
// (mid-clearing) leaves it: acquisition writes nothing more.
func (j *faultyJournal) kill() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.dead = true
}
