package terminal

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

// fakeBackOffice answers batches the way the back office does: a repeated
// batch ID gets its first answer, and the ID of other records a conflict;
// it can fail before or after deciding, answer only some records, or
// refuse a batch whole.
type fakeBackOffice struct {
	failBefore int // next calls that fail before anything is decided
	failAfter  int // next calls that decide, then lose the answer
	refuse     bool
	skipEvery  int // leave every n-th record unanswered (0: none)
	answered   map[string][]bool
	booked     map[string]int    // record -> times booked
	ids        map[string]string // batch key -> its records
	sent       []string          // batch IDs in the order sent
}

func newFakeBackOffice() *fakeBackOffice {
	return &fakeBackOffice{answered: map[string][]bool{}, booked: map[string]int{}, ids: map[string]string{}}
}

func (f *fakeBackOffice) SendBatch(ctx context.Context, b UploadBatch) ([]bool, error) {
	if f.failBefore > 0 {
		f.failBefore--
		return nil, citycard.E("fake", citycard.IO, "connection refused")
	}
	if f.refuse {
		return nil, citycard.E("fake", citycard.Invalid, "header totals do not match")
	}
	f.sent = append(f.sent, b.ID)
	key := fmt.Sprint(b.Terminal, b.ID)
	content := fmt.Sprint(b.Records)
	if c, ok := f.ids[key]; ok && c != content {
		return nil, citycard.E("fake", citycard.Conflict, "batch %q was committed with other content", b.ID)
	}
	f.ids[key] = content
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
	bo := newFakeBackOffice()
	bo.failBefore, bo.failAfter, bo.skipEvery = 2, 3, 7
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
	bo := newFakeBackOffice()
	bo.refuse = true
	u := &Uploader{Queue: q, Sender: bo}
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

// TestUploaderNewQueueNewBatchIDs: a queue file deleted and made again (a
// re-imaged terminal) starts its seqs at 1 again; its batches must not
// reuse the old file's IDs, which the back office holds for other records.
func TestUploaderNewQueueNewBatchIDs(t *testing.T) {
	path := filepath.Join(t.TempDir(), "q")
	bo := newFakeBackOffice()
	sleep := func(context.Context, time.Duration) error { return nil }
	var ids []string
	for life := range 3 {
		q, err := OpenQueue(path)
		if err != nil {
			t.Fatal(err)
		}
		for i := range 3 {
			if _, err := q.Append([]byte(fmt.Sprintf("life %d record %d", life, i))); err != nil {
				t.Fatal(err)
			}
		}
		u := &Uploader{Queue: q, Sender: bo, Sleep: sleep}
		st, err := u.Flush(context.Background(), 3)
		if err != nil || st.Records != 3 || q.Len() != 0 {
			t.Fatalf("life %d: %v, stats %+v, %d left", life, err, st, q.Len())
		}
		if err := q.Close(); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, bo.sent[len(bo.sent)-1])
	}
	if ids[0] == ids[1] || ids[1] == ids[2] || ids[0] == ids[2] {
		t.Fatalf("batch IDs reused across queue files: %q", ids)
	}
	if len(bo.booked) != 9 {
		t.Fatalf("%d records booked, want 9", len(bo.booked))
	}
	for r, n := range bo.booked {
		if n != 1 {
			t.Fatalf("record %q booked %d times", r, n)
		}
	}
}

// TestUploaderConflictStops: a batch whose ID the back office holds for
// other records stops Flush after one attempt, the records still queued.
func TestUploaderConflictStops(t *testing.T) {
	q, err := OpenQueue(filepath.Join(t.TempDir(), "q"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i := range 3 {
		if _, err := q.Append([]byte(fmt.Sprintf("record %d", i))); err != nil {
			t.Fatal(err)
		}
	}
	var attempts, sleeps int
	conflict := senderFunc(func(_ context.Context, b UploadBatch) ([]bool, error) {
		attempts++
		return nil, citycard.E("api.Client.Upload", citycard.Conflict, "409 Conflict: batch %q of terminal 000000000000 was committed with other content", b.ID)
	})
	u := &Uploader{Queue: q, Sender: conflict, Sleep: func(context.Context, time.Duration) error { sleeps++; return nil }}
	st, err := u.Flush(context.Background(), 5)
	want := batchID(q.Epoch(), q.Pending(3))
	if !citycard.IsKind(err, citycard.Conflict) || !errors.Is(err, ErrBatchConflict) || !strings.Contains(err.Error(), want) {
		t.Fatalf("Flush: %v, want kind Conflict naming batch %s", err, want)
	}
	if attempts != 1 || sleeps != 0 || st.Conflicts != 1 || st.Failures != 0 || st.Batches != 0 {
		t.Fatalf("%d attempts, %d sleeps, stats %+v; want one attempt, one conflict", attempts, sleeps, st)
	}
	if q.Len() != 3 {
		t.Fatalf("%d records queued, want the 3", q.Len())
	}
}

type senderFunc func(ctx context.Context, b UploadBatch) ([]bool, error)

func (f senderFunc) SendBatch(ctx context.Context, b UploadBatch) ([]bool, error) { return f(ctx, b) }

// TestUploaderBatchLimits: batch IDs fit the back office's 64 printable
// bytes at the extremes, and MaxBatch is bounded by UploadBatchMax.
func TestUploaderBatchLimits(t *testing.T) {
	es := make([]Queued, UploadBatchMax)
	for i := range es {
		es[i].Seq = math.MaxUint64 - uint64(len(es)-1-i)
	}
	for _, tc := range []struct {
		epoch uint64
		es    []Queued
		want  string
	}{
		{math.MaxUint64, es, "ffffffffffffffff-18446744073709541616-18446744073709551615-10000"},
		{1, []Queued{{Seq: 1}}, "0000000000000001-1-1-1"},
		{0xabc, []Queued{{Seq: 7}, {Seq: 9}}, "0000000000000abc-7-9-2"},
	} {
		id := batchID(tc.epoch, tc.es)
		if id != tc.want {
			t.Fatalf("batch ID %q, want %q", id, tc.want)
		}
		if len(id) > batchIDLenMax {
			t.Fatalf("batch ID %q: %d bytes, limit %d", id, len(id), batchIDLenMax)
		}
		for i := 0; i < len(id); i++ {
			if id[i] < 0x21 || id[i] > 0x7E {
				t.Fatalf("batch ID %q: byte %d not printable", id, i)
			}
		}
	}

	q, err := OpenQueue(filepath.Join(t.TempDir(), "q"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := q.Append([]byte("record")); err != nil {
		t.Fatal(err)
	}
	bo := newFakeBackOffice()
	u := &Uploader{Queue: q, Sender: bo, MaxBatch: UploadBatchMax + 1}
	if _, err := u.Flush(context.Background(), 1); !citycard.IsKind(err, citycard.Invalid) || len(bo.sent) != 0 {
		t.Fatalf("MaxBatch %d: %v, %d batches sent; want kind Invalid and none", u.MaxBatch, err, len(bo.sent))
	}
	u.MaxBatch = UploadBatchMax
	if st, err := u.Flush(context.Background(), 1); err != nil || st.Records != 1 {
		t.Fatalf("MaxBatch %d: %v, stats %+v", u.MaxBatch, err, st)
	}
}

// retryLater is a back office that is unavailable and says when to come
// back, as a 503 with Retry-After does.
type retryLater struct{ after time.Duration }

func (r retryLater) SendBatch(context.Context, UploadBatch) ([]bool, error) {
	return nil, citycard.Wrap("test", citycard.Unavailable,
		&citycard.Error{Op: "api.Client.Upload", Kind: citycard.Unavailable, Err: errors.New("503 Service Unavailable: busy"), Wait: r.after})
}

// TestUploaderHearsRetryAfter: the uploader waits what the back office
// asks (within its own bound) instead of hammering it with its backoff.
func TestUploaderHearsRetryAfter(t *testing.T) {
	q, err := OpenQueue(filepath.Join(t.TempDir(), "q"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	rec := make([]byte, 104)
	if _, err := q.Append(rec); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ after, want time.Duration }{
		{5 * time.Second, 5 * time.Second},   // heard
		{10 * time.Millisecond, time.Second}, // the backoff is longer
		{time.Hour, 30 * time.Second},        // the uploader's bound
	} {
		var slept []time.Duration
		u := &Uploader{Queue: q, Sender: retryLater{c.after}, BackoffMin: time.Second, BackoffMax: 30 * time.Second,
			Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
		if _, err := u.Flush(context.Background(), 2); !citycard.Transient(err) {
			t.Fatalf("flush: %v", err)
		}
		if len(slept) != 1 || slept[0] != c.want {
			t.Fatalf("Retry-After %v: slept %v, want [%v]", c.after, slept, c.want)
		}
		if q.Len() != 1 {
			t.Fatal("the record left the queue unanswered")
		}
	}
}

// refusing is a back office that does not let the terminal in.
type refusing struct {
	kind citycard.Kind
	n    *int
}

func (r refusing) SendBatch(context.Context, UploadBatch) ([]bool, error) {
	*r.n++
	return nil, citycard.E("test", r.kind, "refused")
}

// TestUploaderStopsWhenLockedOut: a token revoked or wrong (401, 403) or
// a terminal the back office does not know (404) stops the flush after one
// attempt, the records kept; a fault that may pass is retried.
func TestUploaderStopsWhenLockedOut(t *testing.T) {
	q, err := OpenQueue(filepath.Join(t.TempDir(), "q"))
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if _, err := q.Append(make([]byte, 104)); err != nil {
		t.Fatal(err)
	}
	noSleep := func(context.Context, time.Duration) error { return nil }
	for _, kind := range []citycard.Kind{citycard.Unauthenticated, citycard.Permission, citycard.NotFound} {
		n := 0
		u := &Uploader{Queue: q, Sender: refusing{kind, &n}, Sleep: noSleep}
		st, err := u.Flush(context.Background(), 0) // 0: no bound on retries
		if !citycard.IsKind(err, kind) || n != 1 || st.Refused != 1 || q.Len() != 1 {
			t.Fatalf("%v: %v after %d attempts (%+v), %d queued; want one attempt, the record kept", kind, err, n, st, q.Len())
		}
	}
	n := 0
	u := &Uploader{Queue: q, Sender: refusing{citycard.IO, &n}, Sleep: noSleep}
	if _, err := u.Flush(context.Background(), 3); !citycard.Transient(err) || n != 3 {
		t.Fatalf("a fault: %v after %d attempts, want 3 retries", err, n)
	}
}
