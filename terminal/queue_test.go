package terminal

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/citycard/citycard"
)

// The terminal spools its records in a Queue.
var _ Spool = (*Queue)(nil)

// recData returns a record of about the size a validator seals (130
// bytes), different for every id.
func recData(id int) []byte {
	b := make([]byte, 130)
	copy(b, fmt.Sprintf("record %08d:", id))
	for i := 16; i < len(b); i++ {
		b[i] = byte(id*31 + i*7)
	}
	return b
}

// testEpoch is the epoch of the queue files tests build by hand.
const testEpoch = 0x5EED_0000_0000_0001

// appendHeaderFrameV1 appends a header frame as written before epochs.
func appendHeaderFrameV1(buf []byte, nextSeq uint64) []byte {
	buf, start := appendFrame(buf, frameKindHeader|frameFirst|frameLast, headerPayloadSizeV1)
	buf = append(buf, queueMagicV1...)
	buf = binary.LittleEndian.AppendUint64(buf, nextSeq)
	return sealFrame(buf, start)
}

func openTestQueue(t testing.TB, path string, opts ...QueueOption) *Queue {
	t.Helper()
	q, err := OpenQueue(path, opts...)
	if err != nil {
		t.Fatalf("OpenQueue: %v", err)
	}
	t.Cleanup(func() {
		if err := q.Close(); err != nil && !errors.Is(err, ErrQueueClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return q
}

func mustClose(t testing.TB, q *Queue) {
	t.Helper()
	if err := q.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func mustAppend(t testing.TB, q *Queue, rec []byte) uint64 {
	t.Helper()
	seq, err := q.Append(rec)
	if err != nil {
		t.Fatalf("Append: %v", err)
	}
	return seq
}

func mustAck(t testing.TB, q *Queue, seqs ...uint64) {
	t.Helper()
	if err := q.Ack(seqs...); err != nil {
		t.Fatalf("Ack(%v): %v", seqs, err)
	}
}

// model is what a queue should hold: entries in seq order and the next seq.
type model struct {
	entries []Queued
	next    uint64
}

func newModel() model { return model{next: 1} }

func (m model) clone() model {
	return model{entries: slices.Clone(m.entries), next: m.next}
}

func (m *model) add(seq uint64, data []byte) {
	m.entries = append(m.entries, Queued{Seq: seq, Data: slices.Clone(data)})
	m.next = seq + 1
}

func (m *model) ack(seqs ...uint64) {
	m.entries = slices.DeleteFunc(m.entries, func(e Queued) bool { return slices.Contains(seqs, e.Seq) })
}

func checkQueue(t testing.TB, q *Queue, want model) {
	t.Helper()
	got := q.Pending(len(want.entries) + 10)
	if len(got) != len(want.entries) || q.Len() != len(want.entries) {
		t.Fatalf("Pending has %d entries, Len %d, want %d: %v", len(got), q.Len(), len(want.entries), seqsOf(got))
	}
	for i := range got {
		if got[i].Seq != want.entries[i].Seq || !bytes.Equal(got[i].Data, want.entries[i].Data) {
			t.Fatalf("entry %d: seq %d %.16q, want seq %d %.16q", i, got[i].Seq, got[i].Data[:16], want.entries[i].Seq, want.entries[i].Data[:16])
		}
	}
	q.mu.Lock()
	next := q.state.nextSeq
	q.mu.Unlock()
	if next != want.next {
		t.Fatalf("next seq %d, want %d", next, want.next)
	}
}

func seqsOf(es []Queued) []uint64 {
	s := make([]uint64, len(es))
	for i, e := range es {
		s[i] = e.Seq
	}
	return s
}

func TestQueueRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue")
	q := openTestQueue(t, path)
	m := newModel()
	for i := range 10 {
		seq := mustAppend(t, q, recData(i))
		if seq != uint64(i+1) {
			t.Fatalf("Append %d: seq %d, want %d", i, seq, i+1)
		}
		m.add(seq, recData(i))
	}
	recs := [][]byte{recData(10), recData(11), recData(12)}
	seqs, err := q.AppendBatch(recs)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(seqs, []uint64{11, 12, 13}) {
		t.Fatalf("AppendBatch seqs %v", seqs)
	}
	for i, s := range seqs {
		m.add(s, recs[i])
	}
	checkQueue(t, q, m)

	// Pending copies: changing what it returns changes nothing.
	p := q.Pending(2)
	if len(p) != 2 || p[0].Seq != 1 || p[1].Seq != 2 {
		t.Fatalf("Pending(2) = %v", seqsOf(p))
	}
	p[0].Data[0] ^= 0xff
	if q.Pending(0) != nil || q.Pending(-1) != nil {
		t.Fatal("Pending(n <= 0) returned entries")
	}

	// Acks: in the middle, at the head, repeated, unknown, zero.
	mustAck(t, q, 5, 3, 4)
	mustAck(t, q, 1)
	mustAck(t, q, 1, 3, 99, 0)
	mustAck(t, q)
	m.ack(1, 3, 4, 5)
	checkQueue(t, q, m)

	mustClose(t, q)
	q = openTestQueue(t, path)
	checkQueue(t, q, m)
	seq := mustAppend(t, q, recData(13))
	if seq != 14 {
		t.Fatalf("seq after reopen %d, want 14", seq)
	}
	m.add(seq, recData(13))

	if err := q.Compact(); err != nil {
		t.Fatal(err)
	}
	checkQueue(t, q, m)
	all := seqsOf(q.Pending(100))
	mustAck(t, q, all...)
	m.ack(all...)
	if err := q.Compact(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, q)

	// An empty compacted file still knows the next seq.
	q = openTestQueue(t, path)
	checkQueue(t, q, m)
	if seq := mustAppend(t, q, recData(14)); seq != 15 {
		t.Fatalf("seq after compacting everything away %d, want 15", seq)
	}
}

func TestQueueLimits(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue")
	q := openTestQueue(t, path, QueueRecordBytesMax(200), QueueRecordsMax(5), QueueBytesMax(200+3*130+10))

	for _, tc := range []struct {
		name string
		err  error
		kind citycard.Kind
	}{
		{"empty", func() error { _, err := q.Append(nil); return err }(), citycard.Invalid},
		{"too big", func() error { _, err := q.Append(make([]byte, 201)); return err }(), citycard.Invalid},
		{"big batch", func() error { _, err := q.AppendBatch(make([][]byte, queueBatchMax+1)); return err }(), citycard.Invalid},
		{"empty in batch", func() error { _, err := q.AppendBatch([][]byte{{1}, {}}); return err }(), citycard.Invalid},
	} {
		if !citycard.IsKind(tc.err, tc.kind) {
			t.Errorf("%s: err %v, want kind %v", tc.name, tc.err, tc.kind)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("rejected records were stored: Len %d", q.Len())
	}
	if seqs, err := q.AppendBatch(nil); err != nil || seqs == nil || len(seqs) != 0 {
		t.Fatalf("empty batch: %v, %v", seqs, err)
	}

	mustAppend(t, q, make([]byte, 200))
	for i := range 3 {
		mustAppend(t, q, recData(i))
	}
	// 4 entries, 590 bytes: the byte limit (600) refuses the next record
	// although the record limit (5) would take it.
	_, err := q.Append(recData(9))
	if !citycard.IsKind(err, citycard.Conflict) || !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Append beyond the byte limit: %v", err)
	}
	mustAck(t, q, 1)
	mustAppend(t, q, recData(4))
	// A batch that does not fit is refused whole.
	if _, err := q.AppendBatch([][]byte{{1}, {2}}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("AppendBatch beyond the record limit: %v", err)
	}
	mustAppend(t, q, []byte{1})
	if _, err := q.Append([]byte{2}); !errors.Is(err, ErrQueueFull) {
		t.Fatalf("Append beyond the record limit: %v", err)
	}
	if q.Len() != 5 {
		t.Fatalf("Len %d, want 5", q.Len())
	}

	for _, opt := range []QueueOption{
		QueueRecordBytesMax(0), QueueRecordBytesMax(queueRecordBytesCap + 1),
		QueueRecordsMax(0), QueueBytesMax(0), QueueCompactBytes(100), QueueCompactBytes(queueBytesCap + 1),
	} {
		if _, err := OpenQueue(filepath.Join(t.TempDir(), "q"), opt); !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("OpenQueue with a bad option: %v", err)
		}
	}
}

func TestQueueClosed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue")
	q := openTestQueue(t, path)
	mustAppend(t, q, recData(1))
	mustClose(t, q)
	checks := map[string]error{
		"Append":  func() error { _, err := q.Append(recData(2)); return err }(),
		"Batch":   func() error { _, err := q.AppendBatch([][]byte{recData(2)}); return err }(),
		"Ack":     q.Ack(1),
		"Compact": q.Compact(),
		"Close":   q.Close(),
	}
	for name, err := range checks {
		if !errors.Is(err, ErrQueueClosed) || !citycard.IsKind(err, citycard.Conflict) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
}

func TestQueueOpenTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue")
	q := openTestQueue(t, path)
	if _, err := OpenQueue(path); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("second OpenQueue: %v, want kind Conflict", err)
	}
	mustClose(t, q)
	openTestQueue(t, path) // the lock went with Close
}

func TestQueueNotAQueue(t *testing.T) {
	for name, content := range map[string][]byte{
		"text":        []byte("terminal_id = 000000000001\npsam = slot 1\nthis is a config file, not a queue\n"),
		"short":       []byte("CCQ"),
		"wrong magic": appendHeaderFrame(nil, 1, testEpoch)[:9], // the frame header alone
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "queue")
			if err := os.WriteFile(path, content, 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := OpenQueue(path)
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("OpenQueue: %v, want kind Invalid", err)
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(after, content) {
				t.Fatal("OpenQueue changed a file that is not a queue")
			}
		})
	}

	// An empty file (touched by hand, or by an installer) becomes a queue.
	path := filepath.Join(t.TempDir(), "queue")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	q := openTestQueue(t, path)
	if seq := mustAppend(t, q, recData(1)); seq != 1 {
		t.Fatalf("seq %d", seq)
	}
}

// history runs operations on a queue and records, after each one, the file
// size (the end of the write it made) and the model of the queue. The torn
// write tests cut the file anywhere and check that OpenQueue finds exactly
// the state after the last write that ended before the cut.
type history struct {
	ends   []int64
	states []model
}

func buildHistory(t *testing.T, path string) (history, []byte) {
	t.Helper()
	q := openTestQueue(t, path)
	m := newModel()
	var h history
	id := 0
	next := func() []byte { id++; return recData(id) }
	appendOne := func() {
		rec := next()
		m.add(mustAppend(t, q, rec), rec)
	}
	batch := func(n int) {
		recs := make([][]byte, n)
		for i := range recs {
			recs[i] = next()
		}
		seqs, err := q.AppendBatch(recs)
		if err != nil {
			t.Fatal(err)
		}
		for i := range seqs {
			m.add(seqs[i], recs[i])
		}
	}
	ack := func(seqs ...uint64) {
		mustAck(t, q, seqs...)
		m.ack(seqs...)
	}
	record := func() {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		h.ends = append(h.ends, fi.Size())
		h.states = append(h.states, m.clone())
	}

	// Before the compaction: its writes are gone from the file after it.
	for range 5 {
		appendOne()
	}
	ack(1, 2)
	batch(3)
	if err := q.Compact(); err != nil {
		t.Fatal(err)
	}
	record() // the compacted file: nothing before it can be cut
	for _, op := range []func(){
		appendOne, appendOne, appendOne,
		func() { ack(4, 6) },
		func() { batch(4) },
		func() { ack(3, 5, 7, 8) },
		appendOne,
		func() { batch(2) },
		func() { ack(9, 11, 12, 13, 15) },
		appendOne,
		func() { batch(3) },
	} {
		op()
		record()
	}
	mustClose(t, q)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if int64(len(data)) != h.ends[len(h.ends)-1] {
		t.Fatalf("file %d bytes, history ends at %d", len(data), h.ends[len(h.ends)-1])
	}
	return h, data
}

// stateAt returns the index of the last write that ends at or before cut.
func (h history) stateAt(cut int64) int {
	k := 0
	for i, end := range h.ends {
		if end <= cut {
			k = i
		}
	}
	return k
}

func TestQueueTornTail(t *testing.T) {
	dir := t.TempDir()
	h, data := buildHistory(t, filepath.Join(dir, "orig"))
	path := filepath.Join(dir, "queue")

	// Every cut through the file, checked with the scan alone (fast).
	for cut := h.ends[0]; cut <= int64(len(data)); cut++ {
		k := h.stateAt(cut)
		r, err := scanQueue(data[:cut])
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if r.goodBytes != h.ends[k] {
			t.Fatalf("cut at %d: good up to %d, want %d", cut, r.goodBytes, h.ends[k])
		}
		r.state.purge()
		got := r.state.pending(1 << 20)
		want := h.states[k]
		if len(got) != len(want.entries) || r.state.nextSeq != want.next {
			t.Fatalf("cut at %d: %v next %d, want %v next %d", cut, seqsOf(got), r.state.nextSeq, seqsOf(want.entries), want.next)
		}
		for i := range got {
			if got[i].Seq != want.entries[i].Seq || !bytes.Equal(got[i].Data, want.entries[i].Data) {
				t.Fatalf("cut at %d: entry %d differs", cut, i)
			}
		}
	}

	// Every cut through the last three writes, through OpenQueue: the file
	// is cut back, the state is right, and the queue goes on from there.
	n := len(h.ends)
	for cut := h.ends[n-4]; cut <= int64(len(data)); cut++ {
		if err := os.WriteFile(path, data[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		k := h.stateAt(cut)
		q, err := OpenQueue(path)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		checkQueue(t, q, h.states[k])
		if fi, _ := os.Stat(path); fi.Size() != h.ends[k] {
			t.Fatalf("cut at %d: file is %d bytes after open, want %d", cut, fi.Size(), h.ends[k])
		}
		m := h.states[k].clone()
		rec := recData(1000)
		m.add(mustAppend(t, q, rec), rec)
		mustClose(t, q)
		q = openTestQueue(t, path)
		checkQueue(t, q, m)
		mustClose(t, q)
	}
}

// TestQueueTornPages simulates a torn last write whose pages reached the
// disk in any order: parts of it read as zeros or garbage while later frames
// of the same write are intact. The whole write is dropped, silently.
func TestQueueTornPages(t *testing.T) {
	dir := t.TempDir()
	h, data := buildHistory(t, filepath.Join(dir, "orig"))
	n := len(h.ends)
	last, prev := h.ends[n-1], h.ends[n-2] // the last write is a batch of 3
	rng := rand.New(rand.NewPCG(1, 2))
	fills := map[string]func([]byte){
		"zeros":   func(b []byte) { clear(b) },
		"ones":    func(b []byte) { fillByte(b, 0xff) },
		"garbage": func(b []byte) { fillRandom(rng, b) },
	}
	for name, fill := range fills {
		for lo := prev; lo < last; lo += 7 {
			for _, hi := range []int64{lo + 1, lo + 50, last} {
				hi = min(hi, last)
				torn := slices.Clone(data)
				fill(torn[lo:hi])
				if bytes.Equal(torn, data) {
					continue
				}
				r, err := scanQueue(torn)
				if err != nil {
					t.Fatalf("%s in [%d, %d): %v", name, lo, hi, err)
				}
				if r.goodBytes != prev {
					t.Fatalf("%s in [%d, %d): good up to %d, want %d", name, lo, hi, r.goodBytes, prev)
				}
			}
		}
	}
}

func fillByte(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

func fillRandom(rng *rand.Rand, b []byte) {
	for i := range b {
		b[i] = byte(rng.Uint32())
	}
}

// TestQueueCorruption damages every byte of a frame written before the last
// write: OpenQueue must report it, naming the frame's offset, and leave the
// file alone.
func TestQueueCorruption(t *testing.T) {
	dir := t.TempDir()
	h, data := buildHistory(t, filepath.Join(dir, "orig"))
	path := filepath.Join(dir, "queue")

	// The first record appended after the compaction, and the ack frame
	// that names 4 and 6.
	for _, w := range []int{1, 4} {
		start, end := h.ends[w-1], h.ends[w]
		for off := start; off < end; off++ {
			bad := slices.Clone(data)
			bad[off] ^= 0x20
			_, err := scanQueue(bad)
			if !citycard.IsKind(err, citycard.IO) || !strings.Contains(err.Error(), fmt.Sprintf("offset %d:", start)) {
				t.Fatalf("byte %d damaged: %v, want kind IO at offset %d", off, err, start)
			}
		}
		bad := slices.Clone(data)
		bad[start+12] ^= 1
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := OpenQueue(path)
		if !citycard.IsKind(err, citycard.IO) {
			t.Fatalf("OpenQueue: %v, want kind IO", err)
		}
		if after, _ := os.ReadFile(path); !bytes.Equal(after, bad) {
			t.Fatal("OpenQueue changed a corrupt file")
		}
	}

	// A damaged header, with records after it, is corruption too.
	bad := slices.Clone(data)
	bad[12] ^= 1
	if _, err := scanQueue(bad); !citycard.IsKind(err, citycard.IO) {
		t.Fatalf("damaged header: %v, want kind IO", err)
	}

	// Frames whose CRC is right but whose content is impossible.
	header := appendHeaderFrame(nil, 1, testEpoch)
	rec := func(flags byte, seq uint64) []byte { return appendRecordFrame(nil, flags, seq, []byte("x")) }
	one := byte(frameFirst | frameLast)
	for name, file := range map[string][]byte{
		"seq backwards":     slices.Concat(header, rec(one, 5), rec(one, 5)),
		"seq zero":          slices.Concat(header, rec(one, 0)),
		"seq too big":       slices.Concat(header, rec(one, queueSeqMax)),
		"second header":     slices.Concat(header, rec(one, 1), appendHeaderFrame(nil, 9, testEpoch)),
		"unfinished write":  slices.Concat(header, rec(frameFirst, 1), rec(one, 2)),
		"orphan frame":      slices.Concat(header, rec(frameLast, 1)),
		"bad ack range":     slices.Concat(header, rec(one, 1), appendAckFrame(nil, one, [][2]uint64{{3, 2}})),
		"empty record":      slices.Concat(header, appendRecordFrame(nil, one, 1, nil)),
		"header next seq 0": appendHeaderFrame(nil, 0, testEpoch),
		"header epoch 0":    appendHeaderFrame(nil, 1, 0),
	} {
		if _, err := scanQueue(file); !citycard.IsKind(err, citycard.IO) {
			t.Errorf("%s: %v, want kind IO", name, err)
		}
	}
}

// TestQueueModel runs random operations, with reopens, against a model.
func TestQueueModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue")
	opts := []QueueOption{QueueCompactBytes(4 << 10), QueueRecordsMax(300)}
	q := openTestQueue(t, path, opts...)
	m := newModel()
	rng := rand.New(rand.NewPCG(7, 11))
	id := 0
	steps := 3000
	if testing.Short() {
		steps = 300
	}
	for step := range steps {
		switch r := rng.IntN(100); {
		case r < 40:
			id++
			rec := recData(id)[:1+rng.IntN(130)]
			seq, err := q.Append(rec)
			if len(m.entries) >= 300 {
				if !errors.Is(err, ErrQueueFull) {
					t.Fatalf("step %d: Append to a full queue: %v", step, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			m.add(seq, rec)
		case r < 50:
			recs := make([][]byte, 1+rng.IntN(20))
			for i := range recs {
				id++
				recs[i] = recData(id)
			}
			seqs, err := q.AppendBatch(recs)
			if len(m.entries)+len(recs) > 300 {
				if !errors.Is(err, ErrQueueFull) {
					t.Fatalf("step %d: AppendBatch to a full queue: %v", step, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
			for i := range seqs {
				m.add(seqs[i], recs[i])
			}
		case r < 90:
			// The uploader's pattern: the oldest few, with gaps, and some
			// seqs that are stale or unknown.
			var seqs []uint64
			for _, e := range q.Pending(rng.IntN(30)) {
				if rng.IntN(4) > 0 {
					seqs = append(seqs, e.Seq)
				}
			}
			seqs = append(seqs, rng.Uint64N(m.next+5))
			mustAck(t, q, seqs...)
			m.ack(seqs...)
		case r < 92:
			if err := q.Compact(); err != nil {
				t.Fatal(err)
			}
		default:
			mustClose(t, q)
			q = openTestQueue(t, path, opts...)
		}
		checkQueue(t, q, m)
	}
	// The file stays bounded: live records plus at most about as many dead
	// bytes, plus the threshold.
	q.mu.Lock()
	size, live := q.size, q.state.liveFrameBytes()
	q.mu.Unlock()
	if size > 2*live+int64(4<<10)+int64(25*148) {
		t.Errorf("file %d bytes for %d live bytes", size, live)
	}
}

// TestQueueBounded runs a validator and an uploader for a long while and
// checks that the file does not grow.
func TestQueueBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue")
	q := openTestQueue(t, path, QueueCompactBytes(4<<10))
	var maxSize int64
	for i := range 1000 {
		recs := [][]byte{recData(i), recData(i + 1)}
		if _, err := q.AppendBatch(recs); err != nil {
			t.Fatal(err)
		}
		p := q.Pending(3)
		if len(p) > 2 {
			mustAck(t, q, p[0].Seq, p[1].Seq)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		maxSize = max(maxSize, fi.Size())
	}
	// The uploader keeps up: a handful of records stay live while 2,000
	// pass through, compacting dozens of times.
	live := int64(q.Len()) * recordFrameBytes(130)
	if maxSize > 2*live+4<<10+1<<10 {
		t.Fatalf("file reached %d bytes for %d live bytes", maxSize, live)
	}
}

// TestQueueConcurrent runs a validator and an uploader goroutine: every
// record is delivered, acked once, in order.
func TestQueueConcurrent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue")
	q := openTestQueue(t, path, QueueCompactBytes(8<<10))
	const n = 400
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if i%10 == 0 {
				if _, err := q.AppendBatch([][]byte{recData(i)}); err != nil {
					t.Error(err)
					return
				}
				continue
			}
			if _, err := q.Append(recData(i)); err != nil {
				t.Error(err)
				return
			}
		}
	})
	var delivered []Queued
	wg.Go(func() {
		for len(delivered) < n {
			p := q.Pending(7)
			if len(p) == 0 {
				runtime.Gosched()
				continue
			}
			if len(delivered) > 0 && p[0].Seq <= delivered[len(delivered)-1].Seq {
				t.Errorf("seq %d delivered after %d", p[0].Seq, delivered[len(delivered)-1].Seq)
				return
			}
			delivered = append(delivered, p...)
			if err := q.Ack(seqsOf(p)...); err != nil {
				t.Error(err)
				return
			}
		}
	})
	wg.Wait()
	for i, e := range delivered {
		if e.Seq != uint64(i+1) || !bytes.Equal(e.Data, recData(i)) {
			t.Fatalf("delivery %d: seq %d", i, e.Seq)
		}
	}
	if q.Len() != 0 {
		t.Fatalf("Len %d after all acked", q.Len())
	}
}

// TestQueueWriteFailure: after a failed write the queue refuses writes, and
// a reopen recovers.
func TestQueueWriteFailure(t *testing.T) {
	path := filepath.Join(t.TempDir(), "queue")
	q := openTestQueue(t, path)
	seq := mustAppend(t, q, recData(1))
	// Pull the file from under the queue: the next write fails.
	if err := q.f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := q.Append(recData(2)); !citycard.IsKind(err, citycard.IO) {
		t.Fatalf("Append on a failed file: %v", err)
	}
	if err := q.Ack(seq); !citycard.IsKind(err, citycard.IO) {
		t.Fatalf("Ack after a failed write: %v", err)
	}
	if q.Len() != 1 {
		t.Fatalf("Len %d", q.Len())
	}
	_ = q.Close() // the file is already closed: the error is expected
	q = openTestQueue(t, path)
	m := newModel()
	m.add(seq, recData(1))
	checkQueue(t, q, m)
}

// FuzzOpenQueue feeds OpenQueue arbitrary files. It must not panic; it must
// either refuse the file untouched or accept it after at most cutting its
// tail, and then work as a queue. Each run fsyncs, so fuzzing on a tmpfs is
// some ten times faster: TMPDIR=/dev/shm go test -fuzz=FuzzOpenQueue.
func FuzzOpenQueue(f *testing.F) {
	header := appendHeaderFrame(nil, 1, testEpoch)
	one := byte(frameFirst | frameLast)
	valid := slices.Concat(header,
		appendRecordFrame(nil, one, 1, []byte("first record")),
		appendRecordFrame(nil, frameFirst, 2, []byte("batch a")),
		appendRecordFrame(nil, frameLast, 3, []byte("batch b")),
		appendAckFrame(nil, one, [][2]uint64{{1, 2}}),
		appendRecordFrame(nil, one, 4, recData(4)),
	)
	f.Add([]byte{})
	f.Add(header)
	f.Add(valid)
	f.Add(valid[:len(valid)-5])
	f.Add(appendHeaderFrame(nil, 1<<40, testEpoch))
	bad := slices.Clone(valid)
	bad[40] ^= 1
	f.Add(bad)
	// A file written before epochs.
	f.Add(slices.Concat(appendHeaderFrameV1(nil, 1), valid[len(header):]))

	dir := f.TempDir()
	path := filepath.Join(dir, "queue")
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		q, err := OpenQueue(path)
		if err != nil {
			if k := citycard.KindOf(err); k != citycard.IO && k != citycard.Invalid {
				t.Fatalf("OpenQueue: %v (kind %v)", err, k)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(after, data) {
				t.Fatal("OpenQueue refused the file but changed it")
			}
			return
		}
		defer q.Close()
		if len(data) > 0 {
			after, _ := os.ReadFile(path)
			if !bytes.HasPrefix(data, after) {
				t.Fatal("OpenQueue changed more than the tail")
			}
		}
		p := q.Pending(1 << 20)
		if len(p) != q.Len() {
			t.Fatalf("Pending %d, Len %d", len(p), q.Len())
		}
		for i := 1; i < len(p); i++ {
			if p[i].Seq <= p[i-1].Seq {
				t.Fatalf("seqs out of order: %v", seqsOf(p))
			}
		}
		m := model{entries: p, next: 1}
		q.mu.Lock()
		m.next = q.state.nextSeq
		q.mu.Unlock()
		epoch := q.Epoch()
		if epoch == 0 {
			t.Fatal("queue epoch 0")
		}
		if len(p) > 0 {
			mustAck(t, q, p[0].Seq)
			m.ack(p[0].Seq)
		}
		seq, err := q.Append([]byte("fuzz"))
		if err != nil && !errors.Is(err, ErrQueueFull) {
			t.Fatal(err)
		}
		if err == nil {
			m.add(seq, []byte("fuzz"))
		}
		mustClose(t, q)
		q, err = OpenQueue(path)
		if err != nil {
			t.Fatalf("reopen: %v", err)
		}
		checkQueue(t, q, m)
		// The epoch is the file's, unless it was written before epochs
		// and never compacted since.
		after, _ := os.ReadFile(path)
		if len(after) >= 17 && string(after[9:17]) == queueMagic && q.Epoch() != epoch {
			t.Fatalf("epoch %x after reopen, was %x", q.Epoch(), epoch)
		}
		mustClose(t, q)
	})
}

// TestQueueEpoch: a queue file keeps its epoch through reopens and
// compactions; a new file at the same path draws a new one; a file
// written before epochs opens, and its first compaction writes the epoch
// it was given.
func TestQueueEpoch(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "queue")
	q := openTestQueue(t, path)
	e := q.Epoch()
	if e == 0 {
		t.Fatal("epoch 0")
	}
	mustAck(t, q, mustAppend(t, q, recData(1)))
	mustAppend(t, q, recData(2))
	if err := q.Compact(); err != nil {
		t.Fatal(err)
	}
	if q.Epoch() != e {
		t.Fatalf("epoch %x after compaction, was %x", q.Epoch(), e)
	}
	mustClose(t, q)
	q = openTestQueue(t, path)
	if q.Epoch() != e {
		t.Fatalf("epoch %x after reopen, was %x", q.Epoch(), e)
	}
	mustClose(t, q)

	// The file is deleted (or the terminal re-imaged): a new file, seqs
	// from 1 again, under a new epoch.
	seen := map[uint64]bool{e: true}
	for range 20 {
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
		q = openTestQueue(t, path)
		if seen[q.Epoch()] {
			t.Fatalf("a new queue file drew epoch %x again", q.Epoch())
		}
		seen[q.Epoch()] = true
		if seq := mustAppend(t, q, recData(3)); seq != 1 {
			t.Fatalf("first seq of a new file %d, want 1", seq)
		}
		mustClose(t, q)
	}

	// A file written before epochs: it opens with its records, and keeps
	// the epoch it was given from its first compaction on.
	one := byte(frameFirst | frameLast)
	old := slices.Concat(appendHeaderFrameV1(nil, 1),
		appendRecordFrame(nil, one, 1, recData(1)),
		appendRecordFrame(nil, one, 2, recData(2)))
	oldPath := filepath.Join(dir, "old")
	if err := os.WriteFile(oldPath, old, 0o600); err != nil {
		t.Fatal(err)
	}
	q = openTestQueue(t, oldPath)
	m := newModel()
	m.add(1, recData(1))
	m.add(2, recData(2))
	checkQueue(t, q, m)
	e = q.Epoch()
	if e == 0 {
		t.Fatal("epoch 0 for a file written before epochs")
	}
	if after, _ := os.ReadFile(oldPath); !bytes.Equal(after, old) {
		t.Fatal("OpenQueue rewrote a file written before epochs")
	}
	if err := q.Compact(); err != nil {
		t.Fatal(err)
	}
	mustClose(t, q)
	q = openTestQueue(t, oldPath)
	if q.Epoch() != e {
		t.Fatalf("epoch %x after compaction and reopen, was given %x", q.Epoch(), e)
	}
	checkQueue(t, q, m)
}

func BenchmarkAppend(b *testing.B) {
	q := openTestQueue(b, filepath.Join(b.TempDir(), "queue"))
	rec := recData(1)
	b.SetBytes(int64(len(rec)))
	n := 0
	for b.Loop() {
		if _, err := q.Append(rec); err != nil {
			b.Fatal(err)
		}
		if n++; n%1024 == 0 {
			drain(b, q)
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

func BenchmarkAppendBatch(b *testing.B) {
	for _, size := range []int{16, 64, 256} {
		b.Run(fmt.Sprint(size), func(b *testing.B) {
			q := openTestQueue(b, filepath.Join(b.TempDir(), "queue"))
			recs := make([][]byte, size)
			for i := range recs {
				recs[i] = recData(i)
			}
			b.SetBytes(int64(size * len(recs[0])))
			n := 0
			for b.Loop() {
				if _, err := q.AppendBatch(recs); err != nil {
					b.Fatal(err)
				}
				if n += size; q.Len() >= 4096 {
					drain(b, q)
				}
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
		})
	}
}

// drain acks everything pending, as an uploader would.
func drain(b *testing.B, q *Queue) {
	b.Helper()
	if err := q.Ack(seqsOf(q.Pending(q.Len()))...); err != nil {
		b.Fatal(err)
	}
}
