package terminal

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// queueFixture makes a queue with acked and unacked records and returns it
// with its model.
func queueFixture(t *testing.T, path string) (*Queue, model) {
	t.Helper()
	q := openTestQueue(t, path)
	m := newModel()
	for i := range 20 {
		m.add(mustAppend(t, q, recData(i)), recData(i))
	}
	mustAck(t, q, 1, 2, 3, 7, 20)
	m.ack(1, 2, 3, 7, 20)
	return q, m
}

// TestQueueCompactionCrash stops a compaction where a power failure could:
// after the new file is synced but before the rename, and after the rename
// before the directory is synced. Either way the queue reopens whole, with
// the same records and the same next seq.
func TestQueueCompactionCrash(t *testing.T) {
	for _, tc := range []struct {
		name      string
		step      compactStep
		compacted bool // whether the file at path is the new one after the crash
	}{
		{"before rename", stepTempSynced, false},
		{"after rename", stepRenamed, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "queue")
			q, m := queueFixture(t, path)
			before, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			q.crashAtStep = func(s compactStep) bool { return s == tc.step }
			if err := q.Compact(); !errors.Is(err, errSimulatedCrash) {
				t.Fatalf("Compact: %v, want the simulated crash", err)
			}
			// The crashed queue must not write again; the process is dead.
			if _, err := q.Append(recData(99)); err == nil {
				t.Fatal("Append after a crash in compaction succeeded")
			}
			mustClose(t, q) // what the kernel does to a dead process's files

			after, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got := !bytes.Equal(after, before); got != tc.compacted {
				t.Fatalf("file replaced: %v, want %v", got, tc.compacted)
			}
			_, errTmp := os.Stat(path + ".compact")
			if tc.compacted == (errTmp == nil) {
				t.Fatalf("after the crash, .compact exists: %v", errTmp == nil)
			}

			q = openTestQueue(t, path)
			checkQueue(t, q, m)
			if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("stale .compact file after open: %v", err)
			}
			seq := mustAppend(t, q, recData(21))
			if seq != 21 {
				t.Fatalf("seq %d after the crash, want 21", seq)
			}
		})
	}

	// A crash while the new file is being written: whatever part of it
	// reached the disk is ignored and removed.
	t.Run("torn new file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "queue")
		q, m := queueFixture(t, path)
		mustClose(t, q)
		f, _, err := writeQueueFile(path+".other", m.next, 7, nil, func(compactStep) bool { return true })
		if !errors.Is(err, errSimulatedCrash) || f != nil {
			t.Fatalf("writeQueueFile: %v", err)
		}
		tmp, err := os.ReadFile(path + ".other.compact")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path+".compact", tmp[:len(tmp)-3], 0o600); err != nil {
			t.Fatal(err)
		}
		q = openTestQueue(t, path)
		checkQueue(t, q, m)
		if _, err := os.Stat(path + ".compact"); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("stale .compact file after open: %v", err)
		}
	})
}

// The kill -9 test. The parent runs this test binary again as a child that
// appends and acks in a loop, printing each seq after Append or Ack
// returns; the parent kills it with SIGKILL at a random moment, reopens the
// queue and checks that every printed append is there exactly once, in
// order, and that every printed ack holds. The moments come from a seeded
// source whose seed the test logs: CITYCARD_QUEUE_KILL_SEED=<seed> runs
// the same moments again.

const (
	killChildEnv = "CITYCARD_QUEUE_KILL_CHILD"
	killSeedEnv  = "CITYCARD_QUEUE_KILL_SEED"
)

// killSeed returns the seed of the kill moments: the one in
// CITYCARD_QUEUE_KILL_SEED, or a new one from the clock.
func killSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv(killSeedEnv); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", killSeedEnv, s, err)
		}
		return seed
	}
	return uint64(time.Now().UnixNano())
}

func TestQueueKill9(t *testing.T) {
	if path := os.Getenv(killChildEnv); path != "" {
		killChild(path)
		return
	}
	if testing.Short() {
		t.Skip("runs a child process")
	}
	path := filepath.Join(t.TempDir(), "queue")
	seed := killSeed(t)
	t.Logf("kill moments from seed %d: %s=%d replays them", seed, killSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 9))

	// known holds the records that must be in the queue: printed appends,
	// minus printed acks, plus what earlier rounds found.
	known := map[uint64][]byte{}
	acked := map[uint64]bool{}
	for round := range 5 {
		wait := time.Duration(rng.IntN(150)) * time.Millisecond
		lines := runKillChild(t, path, round, wait)
		maxPrinted := uint64(0)
		compactions := 0
		acking := map[uint64]bool{} // Ack called, not known to have returned
		for _, l := range lines {
			if l.compacted {
				compactions++
				continue
			}
			if l.acking {
				acking[l.seq] = true
				continue
			}
			delete(acking, l.seq)
			seq, data, isAck := l.seq, l.data, l.ack
			if isAck {
				if _, ok := known[seq]; !ok {
					t.Fatalf("round %d: child acked seq %d that it never had", round, seq)
				}
				delete(known, seq)
				acked[seq] = true
				continue
			}
			if seq <= maxPrinted {
				t.Fatalf("round %d: seq %d printed after %d", round, seq, maxPrinted)
			}
			if acked[seq] {
				t.Fatalf("round %d: seq %d given again after it was acked", round, seq)
			}
			maxPrinted = seq
			known[seq] = data
		}

		q, err := OpenQueue(path)
		if err != nil {
			t.Fatalf("round %d: reopen after kill -9: %v", round, err)
		}
		got := q.Pending(q.Len())
		mustClose(t, q)
		present := map[uint64]bool{}
		for i, e := range got {
			if i > 0 && e.Seq <= got[i-1].Seq {
				t.Fatalf("round %d: seq %d after %d", round, e.Seq, got[i-1].Seq)
			}
			present[e.Seq] = true
			if acked[e.Seq] {
				t.Fatalf("round %d: acked seq %d is back", round, e.Seq)
			}
			want, ok := known[e.Seq]
			switch {
			case ok && !bytes.Equal(e.Data, want):
				t.Fatalf("round %d: seq %d holds %.20q, want %.20q", round, e.Seq, e.Data, want)
			case !ok && e.Seq <= maxPrinted:
				t.Fatalf("round %d: seq %d is present but was never printed", round, e.Seq)
			case !ok:
				// Appended when the kill came, before the child printed it.
				known[e.Seq] = e.Data
			}
		}
		if len(acking) > 2 {
			t.Fatalf("round %d: %d acks in flight at the kill, want at most one Ack's", round, len(acking))
		}
		for seq := range known {
			switch {
			case present[seq]:
			case acking[seq]:
				// The Ack in flight at the kill had made it to the disk.
				delete(known, seq)
				acked[seq] = true
			default:
				t.Fatalf("round %d: seq %d was appended and not acked, and is lost", round, seq)
			}
		}
		t.Logf("round %d: killed %v after the first line: %d lines, %d compactions, %d records pending", round, wait, len(lines), compactions, len(got))
	}
}

type killLine struct {
	seq       uint64
	data      []byte // for an append
	ack       bool   // acked: Ack returned
	acking    bool   // about to be acked: Ack was called
	compacted bool   // the ack before compacted the file
}

// runKillChild runs the child and kills it wait after its first line.
func runKillChild(t *testing.T, path string, round int, wait time.Duration) []killLine {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestQueueKill9$", "-test.count=1")
	cmd.Env = append(os.Environ(), killChildEnv+"="+path, "CITYCARD_QUEUE_KILL_ROUND="+strconv.Itoa(round))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first := make(chan struct{})
	done := make(chan []killLine)
	go func() {
		var lines []killLine
		sc := bufio.NewScanner(out)
		signalled := false
		for sc.Scan() {
			if !signalled {
				close(first)
				signalled = true
			}
			l, err := parseKillLine(sc.Text())
			if err != nil {
				t.Error(err)
				continue
			}
			lines = append(lines, l)
		}
		if !signalled {
			close(first)
		}
		done <- lines
	}()
	select {
	case <-first:
	case <-time.After(10 * time.Second):
		t.Error("child printed nothing in 10 s")
	}
	time.Sleep(wait) // the random moment of the power failure
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	lines := <-done
	err = cmd.Wait()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != -1 {
		t.Fatalf("child did not die of the kill: %v\n%s", err, stderr.Bytes())
	}
	if len(lines) == 0 {
		t.Fatalf("child printed nothing\n%s", stderr.Bytes())
	}
	return lines
}

func parseKillLine(s string) (killLine, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return killLine{}, fmt.Errorf("child line %q", s)
	}
	seq, err := strconv.ParseUint(f[1], 10, 64)
	if err != nil {
		return killLine{}, fmt.Errorf("child line %q: %v", s, err)
	}
	switch {
	case f[0] == "C" && len(f) == 2:
		return killLine{compacted: true}, nil
	case f[0] == "K" && len(f) == 2:
		return killLine{seq: seq, ack: true}, nil
	case f[0] == "k" && len(f) == 2:
		return killLine{seq: seq, acking: true}, nil
	case f[0] == "A" && len(f) == 3:
		return killLine{seq: seq, data: killRecord(f[2])}, nil
	}
	return killLine{}, fmt.Errorf("child line %q", s)
}

// killRecord is the record the child appends under id.
func killRecord(id string) []byte {
	return append([]byte(id+":"), bytes.Repeat([]byte{'.'}, 120)...)
}

// killChild appends and acks until it is killed. A tiny compaction threshold
// makes the kill land in compactions too.
func killChild(path string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, "child:", err)
		os.Exit(3)
	}
	q, err := OpenQueue(path, QueueCompactBytes(4<<10))
	if err != nil {
		fail(err)
	}
	round := os.Getenv("CITYCARD_QUEUE_KILL_ROUND")
	for i := 0; ; i++ {
		if i%5 == 4 {
			ids := []string{fmt.Sprintf("r%s-%da", round, i), fmt.Sprintf("r%s-%db", round, i), fmt.Sprintf("r%s-%dc", round, i)}
			seqs, err := q.AppendBatch([][]byte{killRecord(ids[0]), killRecord(ids[1]), killRecord(ids[2])})
			if err != nil {
				fail(err)
			}
			for j, seq := range seqs {
				fmt.Printf("A %d %s\n", seq, ids[j])
			}
		} else {
			id := fmt.Sprintf("r%s-%d", round, i)
			seq, err := q.Append(killRecord(id))
			if err != nil {
				fail(err)
			}
			fmt.Printf("A %d %s\n", seq, id)
		}
		if i%4 != 3 {
			// Ack the oldest and the third oldest, leaving a gap. The
			// uploader keeps up, so compactions come every few dozen acks.
			p := q.Pending(3)
			seqs := []uint64{p[0].Seq}
			if len(p) == 3 {
				seqs = append(seqs, p[2].Seq)
			}
			for _, seq := range seqs {
				fmt.Printf("k %d\n", seq) // about to ack: it may or may not be done when killed
			}
			q.mu.Lock()
			size := q.size
			q.mu.Unlock()
			if err := q.Ack(seqs...); err != nil {
				fail(err)
			}
			for _, seq := range seqs {
				fmt.Printf("K %d\n", seq)
			}
			q.mu.Lock()
			compacted := q.size < size
			q.mu.Unlock()
			if compacted {
				fmt.Printf("C 0\n")
			}
		}
	}
}
