package terminal

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/record"
)

// UploadBatch is what an uploader sends: records in the binary layout, in
// queue order, under an ID that names exactly these records.
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
// Kind Invalid means the back office refused the batch whole.
type Sender interface {
	SendBatch(ctx context.Context, b UploadBatch) (answered []bool, err error)
}

// Pending is the part of the queue the uploader needs (Queue implements it).
type Pending interface {
	Pending(n int) []Entry
	Ack(seqs ...uint64) error
}

// Uploader sends a terminal's queue to the back office and removes a
// record only once the back office has answered for it, so that killing
// either side at any moment loses nothing and books nothing twice (the
// back office's batch ID and its duplicate detection take care of the
// repeats).
type Uploader struct {
	Terminal citycard.TerminalID
	Queue    Pending
	Sender   Sender
	// MaxBatch is the number of records per batch; 0: 1000.
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
}

// Flush uploads until the queue is empty, ctx is done, or maxFailures
// attempts in a row got no answer (0: retry until ctx is done). A batch
// refused whole is reported (kind Invalid) and stops the flush: it stays
// queued for an engineer to look at.
func (u *Uploader) Flush(ctx context.Context, maxFailures int) (UploadStats, error) {
	const op = "terminal.Uploader.Flush"
	var st UploadStats
	maxBatch := u.MaxBatch
	if maxBatch <= 0 {
		maxBatch = 1000
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
			// The ID names the queue positions: a retry of the same records
			// is the same batch, which the back office answers once.
			ID:      fmt.Sprintf("q%d-%d-%d", pending[0].Seq, pending[len(pending)-1].Seq, len(pending)),
			Records: make([][]byte, len(pending)),
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
		if err == nil && len(answered) != len(pending) {
			err = citycard.E(op, citycard.IO, "batch %s: %d answers for %d records", b.ID, len(answered), len(pending))
		}
		if err != nil {
			st.Failures++
			failures++
			logger.Warn("upload: no answer; will retry", "batch", b.ID, "err", err, "backoff", backoff)
			if maxFailures > 0 && failures >= maxFailures {
				return st, citycard.Wrap(op, citycard.IO, err)
			}
			if err := sleep(ctx, backoff); err != nil {
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
