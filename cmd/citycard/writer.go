package main

import (
	"context"
	"fmt"
	"io"
)

// writerLock is a store's writer lock (sqlite.WriterLock,
// postgres.WriterLock): one process writes a store's journal.
type writerLock interface {
	// Release gives the lock back.
	Release() error
	// Lost is closed if the lock is lost while held (a PostgreSQL
	// session that ended); the holder must stop writing.
	Lost() <-chan struct{}
	// Err says why the lock was lost.
	Err() error
}

// lockWriter takes the writer lock of st, without waiting: what writes
// the journal (serve, bench ingest) takes it before its acquirer opens.
// Kind Conflict when another process holds it, the message naming the
// holder as far as the store can tell.
func lockWriter(ctx context.Context, st *stores) (writerLock, error) {
	return st.lockWriter(ctx)
}

// releaseWriter gives the lock back at the end of a command; a failure is
// said on stderr and is no failure of the command, since the lock goes
// with the process anyway.
func releaseWriter(l writerLock, stderr io.Writer) {
	if err := l.Release(); err != nil {
		fmt.Fprintf(stderr, "citycard: %v (the lock goes with the process)\n", err)
	}
}
