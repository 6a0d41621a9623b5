// Package filelock keeps a file to one holder at a time across processes,
// the way the platform keeps a terminal's queue, the key store and a
// SQLite store to one writer: an exclusive advisory lock (flock(2)) that
// the kernel drops when its holder dies, kill -9 included, so that no
// crash leaves a stale lock behind and the next process starts at once.
//
// The lock is on the open file, not on its name: whoever replaces or
// removes the file while a lock is being taken would leave the locker
// holding a file nobody else opens, so Lock checks that the path still
// names the file it locked, and tries again if not.
//
// Where the system has no flock(2) (Supported is false), Lock opens the
// file and locks nothing: callers say what guards them then.
package filelock

import "errors"

// ErrLocked says that another open file, in this process or another,
// holds the lock.
var ErrLocked = errors.New("locked by another holder")

// lockTriesMax bounds the attempts to lock a file that is replaced between
// its open and its lock; each race needs another process to replace it in
// between, so two tries nearly always do.
const lockTriesMax = 4
