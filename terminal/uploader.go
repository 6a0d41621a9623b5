package terminal

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/record"
)

// UploadBatch is what an uploader sends: records in the binary layout, in
// queue order, under an ID that names exactly these records for the
// terminal's whole life (see the package doc).
type UploadBatch struct {
	Terminal  citycard.TerminalID
	ID        string
	Records   [][]byte
	AmountFen int64
}

// Sender carries a batch to the back office and returns, per record in
// order, whether the back office answered for it (accepted, duplicate,
// flagged or rejected: each lets the terminal drop it). The api package
// implements it over HTTP. An error means no answer: nothing is dropped.
// Kind Invalid means the back office refused the batch whole; kind
// Conflict that it holds other records under the batch's ID (HTTP 409).
type Sender interface {
	SendBatch(ctx context.Context, b UploadBatch) (answered []bool, err error)
}

// Pending is the part of the queue the uploader needs (Queue implements
// it). Epoch must differ between any two queues a terminal ever has, and
// stay the same for one queue (see Queue.Epoch): batch IDs are made of it.
type Pending interface {
	Pending(n int) []Queued
	Ack(seqs ...uint64) error
	Epoch() uint64
}

// UploadBatchMax is the most records an Uploader sends in one batch: the
// back office's limit (acquire.MaxBatchRecords), which would refuse a
// larger batch whole.
const UploadBatchMax = 10000

// batchIDLenMax is the longest batch ID the back office takes
// (acquire.MaxBatchIDLen).
const batchIDLenMax = 64

// batchID names the batch of entries es (in queue order, not empty) of a
// queue of the given epoch: "<epoch in 16 hex digits>-<first seq>-<last
// seq>-<count>". The package doc says why. Even for seqs of 20 digits and
// UploadBatchMax records it has 16+1+20+1+20+1+5 = 64 printable bytes, the
// most the back office takes.
func batchID(epoch uint64, es []Queued) string {
	return fmt.Sprintf("%016x-%d-%d-%d", epoch, es[0].Seq, es[len(es)-1].Seq, len(es))
}

// ErrBatchConflict is in the chain of the error (kind Conflict) Flush
// returns when the back office holds other records under a batch's ID.
// Sending the batch again cannot help: it stays queued for an engineer.
var ErrBatchConflict = errors.New("the back office holds other records under this batch ID")

// Uploader sends a terminal's queue to the back office and removes a
// record only once the back office has answered for it, so that killing
// either side at any moment loses nothing and books nothing twice (the
// back office's batch ID and its duplicate detection take care of the
// repeats).
type Uploader struct {
	Terminal citycard.TerminalID
	Queue    Pending
	Sender   Sender
	// MaxBatch is the number of records per batch, at most
	// UploadBatchMax; 0: 1000.
	MaxBatch int
	// BackoffMin and BackoffMax bound the wait between failed attempts
	// (doubling from min to max); 0: 100 ms and 30 s.
	BackoffMin, BackoffMax time.Duration
	// Sleep waits d or until ctx is done; nil: a timer. Tests inject it.
	Sleep  func(ctx context.Context, d time.Duration) error
	Logger *slog.Logger
}

// UploadStats is what Flush did.
type UploadStats struct {
	Batches  int
	Records  int // records answered and dropped from the queue
	Failures int // attempts that got no answer
	Refused  int // batches refused whole: they stay queued
	// Conflicts are batches whose ID the back office holds for other
	// records: they stay queued.
	Conflicts int
}

// Flush uploads until the queue is empty, ctx is done, or maxFailures
// attempts in a row got no answer (0: retry until ctx is done). A batch
// refused whole (kind Invalid), or whose ID the back office holds for
// other records (kind Conflict, ErrBatchConflict), is reported and stops
// the flush at once, since sending it again would get the same answer: it
// stays queued for an engineer to look at; so does a terminal the back
// office does not let in (kinds Unauthenticated, Permission, NotFound: a
// token revoked or wrong). Kind Invalid also for a MaxBatch above
// UploadBatchMax.
func (u *Uploader) Flush(ctx context.Context, maxFailures int) (UploadStats, error) {
	const op = "terminal.Uploader.Flush"
	var st UploadStats
	maxBatch := u.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 1000
	}
	if maxBatch > UploadBatchMax {
		return st, citycard.E(op, citycard.Invalid, "MaxBatch %d: at most %d records in a batch", maxBatch, UploadBatchMax)
	}
	minBackoff, maxBackoff := u.BackoffMin, u.BackoffMax
	if minBackoff <= 0 {
		minBackoff = 100 * time.Millisecond
	}
	backoff := minBackoff
	if maxBackoff <= 0 {
		maxBackoff = 30 * time.Second
	}
	sleep := u.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	logger := u.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	failures := 0
	for {
		if err := ctx.Err(); err != nil {
			return st, citycard.E(op, citycard.IO, "%w", err)
		}
		pending := u.Queue.Pending(maxBatch)
		if len(pending) == 0 {
			return st, nil
		}
		b := UploadBatch{
			Terminal: u.Terminal,
			ID:       batchID(u.Queue.Epoch(), pending),
			Records:  make([][]byte, len(pending)),
		}
		for i, e := range pending {
			b.Records[i] = e.Data
			fen, _ := record.AmountOf(e.Data)
			b.AmountFen += int64(fen)
		}
		answered, err := u.Sender.SendBatch(ctx, b)
		if citycard.IsKind(err, citycard.Invalid) {
			st.Refused++
			logger.Error("upload: batch refused whole; it stays queued", "batch", b.ID, "err", err)
			return st, citycard.Wrap(op, citycard.Invalid, err)
		}
		if citycard.IsKind(err, citycard.Conflict) {
			st.Conflicts++
			logger.Error("upload: the back office holds other records under the batch's ID; it stays queued", "batch", b.ID, "err", err)
			return st, citycard.E(op, citycard.Conflict, "batch %s (%d records, seqs %d to %d): %w: %w",
				b.ID, len(pending), pending[0].Seq, pending[len(pending)-1].Seq, ErrBatchConflict, err)
		}
		if refusedForGood(err) {
			// A token revoked or wrong, a terminal the back office does
			// not let upload: retrying cannot help; a person must.
			st.Refused++
			logger.Error("upload: the back office refuses this terminal; the batch stays queued", "batch", b.ID, "err", err)
			return st, citycard.Wrap(op, citycard.Other, err)
		}
		if err == nil && len(answered) != len(pending) {
			err = citycard.E(op, citycard.IO, "batch %s: %d answers for %d records", b.ID, len(answered), len(pending))
		}
		if err != nil {
			st.Failures++
			failures++
			wait := backoff
			// A back office that says when to come back (503 Retry-After)
			// is heard, within the uploader's own bound.
			if ra := citycard.RetryAfter(err); ra > 0 {
				wait = min(max(wait, ra), maxBackoff)
			}
			logger.Warn("upload: no answer; will retry", "batch", b.ID, "err", err, "wait", wait)
			if maxFailures > 0 && failures >= maxFailures {
				return st, citycard.Wrap(op, citycard.IO, err)
			}
			if err := sleep(ctx, wait); err != nil {
				return st, citycard.E(op, citycard.IO, "%w", err)
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		failures = 0
		backoff = minBackoff
		var seqs []uint64
		for i, ok := range answered {
			if ok {
				seqs = append(seqs, pending[i].Seq)
			}
		}
		if err := u.Queue.Ack(seqs...); err != nil {
			return st, citycard.Wrap(op, citycard.IO, err)
		}
		st.Batches++
		st.Records += len(seqs)
		if len(seqs) < len(pending) {
			// Some records got no answer: send them again later rather
			// than spin on them now.
			if err := sleep(ctx, backoff); err != nil {
				return st, citycard.E(op, citycard.IO, "%w", err)
			}
		}
	}
}

// refusedForGood reports whether err is an answer of the back office that
// no retry changes: the terminal is not let in (kinds Unauthenticated,
// Permission, NotFound). Only faults that may pass (IO, Unavailable, and
// errors of no kind: the network's) are retried.
func refusedForGood(err error) bool {
	switch citycard.KindOf(err) {
	case citycard.Unauthenticated, citycard.Permission, citycard.NotFound:
		return true
	}
	return false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
