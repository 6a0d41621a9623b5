package terminal

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

// fakeBackOffice answers batches the way the back office does: a repeated
// batch ID gets its first answer; it can fail before or after deciding,
// answer only some records, or refuse a batch whole.
type fakeBackOffice struct {
	failBefore int // next calls that fail before anything is decided
	failAfter  int // next calls that decide, then lose the answer
	refuse     bool
	skipEvery  int // leave every n-th record unanswered (0: none)
	answered   map[string][]bool
	booked     map[string]int // record -> times booked
	ids        map[string]string
}

func (f *fakeBackOffice) SendBatch(ctx context.Context, b UploadBatch) ([]bool, error) {
	if f.failBefore > 0 {
		f.failBefore--
		return nil, citycard.E("fake", citycard.IO, "connection refused")
	}
	if f.refuse {
		return nil, citycard.E("fake", citycard.Invalid, "header totals do not match")
	}
	key := fmt.Sprint(b.Terminal, b.ID)
	ans, seen := f.answered[key]
	if !seen {
		ans = make([]bool, len(b.Records))
		for i, r := range b.Records {
			if f.skipEvery > 0 && i%f.skipEvery == f.skipEvery-1 {
				continue
			}
			ans[i] = true
			f.booked[string(r)]++
		}
		f.answered[key] = ans
	}
	if f.failAfter > 0 {
		f.failAfter--
		return nil, citycard.E("fake", citycard.IO, "connection reset")
	}
	return ans, nil
}

func TestUploaderExactlyOnce(t *testing.T) {
	q, err := OpenQueue(filepath.Join(t.TempDir(), "q"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := 0; i < 250; i++ {
		rec := make([]byte, 104)
		copy(rec, fmt.Sprintf("record %03d", i))
		rec[36] = byte(i)
		if _, err := q.Append(rec); err != nil {
			t.Fatal(err)
		}
	}
	bo := &fakeBackOffice{failBefore: 2, failAfter: 3, skipEvery: 7, answered: map[string][]bool{}, booked: map[string]int{}}
	var slept []time.Duration
	u := &Uploader{Queue: q, Sender: bo, MaxBatch: 40, BackoffMin: 10 * time.Millisecond, BackoffMax: 30 * time.Millisecond,
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	for round := 0; q.Len() > 0 && round < 10; round++ {
		bo.skipEvery = max(0, bo.skipEvery-3) // later rounds answer everything
		if _, err := u.Flush(context.Background(), 0); err != nil {
			t.Fatal(err)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("%d records left in the queue", q.Len())
	}
	if len(bo.booked) != 250 {
		t.Fatalf("%d records reached the back office, want 250", len(bo.booked))
	}
	for r, n := range bo.booked {
		if n != 1 {
			t.Fatalf("record %q booked %d times", r[:10], n)
		}
	}
	// Back-off doubled from the minimum up to the maximum.
	if len(slept) < 5 || slept[0] != 10*time.Millisecond || slept[1] != 20*time.Millisecond || slept[2] != 30*time.Millisecond {
		t.Fatalf("back-off %v", slept)
	}
}

func TestUploaderRefusedBatchStaysQueued(t *testing.T) {
	q, err := OpenQueue(filepath.Join(t.TempDir(), "q"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := 0; i < 3; i++ {
		q.Append(make([]byte, 104))
	}
	u := &Uploader{Queue: q, Sender: &fakeBackOffice{refuse: true, answered: map[string][]bool{}, booked: map[string]int{}}}
	st, err := u.Flush(context.Background(), 0)
	if !citycard.IsKind(err, citycard.Invalid) || st.Refused != 1 || q.Len() != 3 {
		t.Fatalf("refused batch: %v, stats %+v, %d queued", err, st, q.Len())
	}
	// No answer at all: Flush gives up after maxFailures, the records stay.
	u.Sender = &fakeBackOffice{failBefore: 100}
	u.Sleep = func(context.Context, time.Duration) error { return nil }
	if _, err := u.Flush(context.Background(), 3); !citycard.IsKind(err, citycard.IO) || q.Len() != 3 {
		t.Fatalf("unreachable: %v, %d queued", err, q.Len())
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := u.Flush(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
