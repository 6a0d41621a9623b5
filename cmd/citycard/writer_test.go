package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/citycard/citycard"
)

// TestBenchTakesWriterLock: bench ingest writes the journal, so it takes
// the writer lock too, and refuses a store another process writes.
func TestBenchTakesWriterLock(t *testing.T) {
	ctx := context.Background()
	db := "sqlite:" + filepath.Join(t.TempDir(), "bo.db")
	st, err := openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	l, err := lockWriter(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseWriter(l, t.Output())
	var out, errOut bytes.Buffer
	err = run(ctx, []string{"bench", "ingest", "--records", "10", "--cards", "5", "--db", db}, func(string) string { return "" }, &out, &errOut)
	if !citycard.IsKind(err, citycard.Conflict) || !strings.Contains(err.Error(), "holds the writer lock") {
		t.Fatalf("bench on a locked store: %v, want kind Conflict naming the writer lock", err)
	}
}

// TestResubmitTakesWriterLock: rejections resubmit writes the journal
// through an acquirer of its own, so it refuses a store another process
// (a running server) writes, before it resubmits anything.
func TestResubmitTakesWriterLock(t *testing.T) {
	ctx := context.Background()
	w := newWorld(t, 2, 50)
	w.upload(t) // no terminal registered: every record is rejected
	before := len(w.listRejections(t))
	if before == 0 {
		t.Fatal("no rejections to resubmit")
	}
	st, err := openStores(ctx, w.db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	l, err := lockWriter(ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	defer releaseWriter(l, t.Output())
	w.register(t, w.ups[0].Terminal)
	_, _, err = w.run(t, "rejections", "resubmit", "--db", w.db, "--store", w.store, "--kek-file", w.kekFile, "--reason", "unknown_terminal", "--by", "ann")
	if !citycard.IsKind(err, citycard.Conflict) || !strings.Contains(err.Error(), "holds the writer lock") {
		t.Fatalf("resubmit on a locked store: %v, want kind Conflict naming the writer lock", err)
	}
	for _, r := range w.listRejections(t) {
		if r.Resubmitted {
			t.Fatalf("resubmitted while refused: %+v", r)
		}
	}
	if n := len(w.listRejections(t)); n != before {
		t.Fatalf("%d rejections after the refusal, %d before", n, before)
	}
}
