package cms

import (
	"context"
	"slices"
	"sync"
)

// GroupCommitMax bounds the operations one group commit takes: at about
// 0.1 ms of statements each, a full group is a transaction of a few tens
// of milliseconds, and the ones queued behind it wait for the next.
const GroupCommitMax = 256

// GroupCommit is a Store whose Commit batches the operations committed at
// the same time into one transaction (Store.CommitBatch): on SQLite a
// commit is an fsync, and one fsync for many loads is what lets the load
// host take a thousand a second. Each operation is still its own:
// its own key, replay check, cards and audit record, and its own error
// (one refused does not refuse the others).
//
// There is no goroutine to stop: the first caller to find no commit in
// progress leads, taking the queue (at most GroupCommitMax) into one
// transaction; callers arriving meanwhile queue, and when the leader is
// done it hands the lead to the first of them, so no caller commits
// others' operations for longer than one transaction. The transaction
// runs under the leader's context without its cancellation, as it
// carries operations of callers whose contexts are still live.
type GroupCommit struct {
	Store
	mu    sync.Mutex
	queue []*pending
	busy  bool
}

type pending struct {
	op     *Operation
	res    CommitResult
	wake   chan struct{} // one signal: either the result is in, or lead
	leader bool
	later  func(CommitResult) // for CommitLater: nobody waits, this is told
}

// NewGroupCommit returns s with its commits grouped.
func NewGroupCommit(s Store) *GroupCommit { return &GroupCommit{Store: s} }

// Commit implements Store: it waits for op's group to commit.
func (g *GroupCommit) Commit(ctx context.Context, op *Operation) (bool, error) {
	p := &pending{op: op, wake: make(chan struct{}, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if g.busy {
		g.mu.Unlock()
		<-p.wake
		if !p.leader {
			return p.res.Replayed, p.res.Err
		}
	} else {
		g.busy = true
		g.mu.Unlock()
	}
	g.lead(context.WithoutCancel(ctx), p)
	return p.res.Replayed, p.res.Err
}

// CommitLater queues op for the next group commit and returns at once;
// done, if not nil, is told the outcome (from the goroutine that
// commits). For writes whose loss in a crash the design tolerates (a
// load's confirmation: the load stays unconfirmed and is settled like
// one whose TAC never came).
func (g *GroupCommit) CommitLater(ctx context.Context, op *Operation, done func(CommitResult)) {
	if done == nil {
		done = func(CommitResult) {}
	}
	p := &pending{op: op, later: done}
	g.mu.Lock()
	g.queue = append(g.queue, p)
	if g.busy {
		g.mu.Unlock()
		return
	}
	g.busy = true
	g.mu.Unlock()
	go g.lead(context.WithoutCancel(ctx), nil)
}

// lead commits groups from the queue, its caller holding the lead
// (busy): until self's group has committed (self nil: while only
// operations committed later are queued), then it hands the lead to the
// first caller waiting in the queue, or gives it up when the queue is
// empty.
func (g *GroupCommit) lead(ctx context.Context, self *pending) {
	for {
		g.mu.Lock()
		n := min(len(g.queue), GroupCommitMax)
		group := make([]*pending, n)
		copy(group, g.queue)
		g.queue = append(g.queue[:0], g.queue[n:]...)
		g.mu.Unlock()

		ops := make([]*Operation, len(group))
		for i, q := range group {
			ops[i] = q.op
		}
		results, err := g.Store.CommitBatch(ctx, ops)
		for i, q := range group {
			if err != nil {
				q.res = CommitResult{Err: err}
			} else {
				q.res = results[i]
			}
			switch {
			case q == self:
				self = nil
			case q.later != nil:
				q.later(q.res)
			default:
				q.wake <- struct{}{}
			}
		}

		g.mu.Lock()
		if len(g.queue) == 0 {
			g.busy = false
			g.mu.Unlock()
			return
		}
		if self == nil {
			for _, q := range g.queue {
				if q.later == nil {
					q.leader = true
					q.wake <- struct{}{}
					g.mu.Unlock()
					return
				}
			}
		}
		g.mu.Unlock()
	}
}

// RetryBatch is how a store's CommitBatch commits operations with no
// savepoint each (two statements an operation saved): try runs one
// transaction over the operations at the positions live, setting
// replayed for each; if an operation is refused for its own reason
// (IsRefusal), try rolls the transaction back and returns its position
// and error, and RetryBatch records the refusal and tries again without
// it. Refusals are rare (a move racing another), so the repeated work is
// too. Any other error of try is the batch's.
func RetryBatch(n int, try func(live []int, replayed []bool) (refused int, err error)) ([]CommitResult, error) {
	results := make([]CommitResult, n)
	live := make([]int, n)
	for i := range live {
		live[i] = i
	}
	for len(live) > 0 {
		replayed := make([]bool, n)
		refused, err := try(live, replayed)
		if err == nil {
			for _, i := range live {
				results[i].Replayed = replayed[i]
			}
			return results, nil
		}
		if refused < 0 || !IsRefusal(err) {
			return nil, err
		}
		results[refused].Err = err
		live = slices.DeleteFunc(live, func(i int) bool { return i == refused })
	}
	return results, nil
}
