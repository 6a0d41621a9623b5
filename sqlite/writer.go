package sqlite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/filelock"
)

// writerLockSuffix names the lock file beside the database: PATH plus
// this, as SQLite names its PATH-wal and PATH-shm.
const writerLockSuffix = "-writer.lock"

// writerLockNoteMax bounds what is read back of the holder's note.
const writerLockNoteMax = 256

// WriterLock is the database's writer lock, held from DB.LockWriter until
// Release or the end of the process, whichever comes first: the kernel
// drops an OS file lock with its process, kill -9 included, so a server
// restarts at once after a crash, with no lock to wait out.
type WriterLock struct {
	path string // the lock file
	mu   sync.Mutex
	f    *os.File // nil once released
	lost chan struct{}
}

// LockWriter takes the database's writer lock: an exclusive flock(2) on
// PATH-writer.lock, taken without waiting. One process writes the journal
// of a store (the acquirer decides every batch from its state in memory,
// and two such states would decide against each other); the lock makes
// that a fact rather than a hope. The holder writes its process ID and
// host into the file for whoever finds it locked. Kinds: Conflict
// (another process, or another WriterLock of this one, holds it: the
// message says what the holder wrote and since when), IO.
//
// A lock per store, as one process writes every shard today. Per-shard
// writers would take it shared (LOCK_SH) and each its shard's exclusive
// lock on PATH-writer-N.lock, so that a whole-store writer still excludes
// them all; see the package doc. On systems without flock(2) the lock is
// taken in name only, as the terminal's queue lock is, and the journal's
// position check remains the only guard against a second writer.
func (db *DB) LockWriter(ctx context.Context) (*WriterLock, error) {
	const op = "sqlite.DB.LockWriter"
	if err := ctx.Err(); err != nil {
		return nil, citycard.E(op, citycard.IO, "%s: %w", db.path, err)
	}
	path := db.path + writerLockSuffix
	f, err := filelock.Lock(path)
	if errors.Is(err, filelock.ErrLocked) {
		return nil, citycard.E(op, citycard.Conflict, "%s: another process holds the writer lock (%s): one writer per store", db.path, holderNote(path))
	}
	if err != nil {
		return nil, citycard.E(op, citycard.IO, "%s: writer lock: %w", db.path, err)
	}
	host, _ := os.Hostname() // the note is for people; a host it cannot name is left out
	note := "pid " + strconv.Itoa(os.Getpid())
	if host != "" {
		note += " on host " + host
	}
	if err := writeNote(f, note); err != nil {
		_ = f.Close() // the lock is given back; err says why
		return nil, citycard.E(op, citycard.IO, "%s: writer lock: %w", db.path, err)
	}
	return &WriterLock{path: path, f: f, lost: make(chan struct{})}, nil
}

// writeNote replaces the lock file's content by note: only the holder
// writes it, so a reader sees the last holder's note or, for a moment
// after the lock changed hands, none.
func writeNote(f *os.File, note string) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt([]byte(note+"\n"), 0); err != nil {
		return err
	}
	return f.Sync()
}

// holderNote says what the lock's holder wrote and when, as far as the
// file tells.
func holderNote(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "holder unknown: " + err.Error()
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, writerLockNoteMax))
	note := strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
	if err != nil || note == "" {
		note = "holder unknown"
	}
	if fi, err := f.Stat(); err == nil && fi.Size() > 0 {
		note += ", since " + fi.ModTime().UTC().Format(time.RFC3339)
	}
	return note
}

// Release gives the lock back. Releasing twice does nothing. Kind IO.
func (l *WriterLock) Release() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close() // closing the last descriptor drops the flock
	l.f = nil
	if err != nil {
		return citycard.E("sqlite.WriterLock.Release", citycard.IO, "%s: %w", l.path, err)
	}
	return nil
}

// Lost is closed when the lock is lost while held; an OS file lock is
// lost only with its process, so it never is (it is here for the
// interface the PostgreSQL store's lock shares).
func (l *WriterLock) Lost() <-chan struct{} { return l.lost }

// Err says why the lock was lost: always nil here.
func (l *WriterLock) Err() error { return nil }

// String names the lock, for logs.
func (l *WriterLock) String() string { return fmt.Sprintf("flock %s", l.path) }
