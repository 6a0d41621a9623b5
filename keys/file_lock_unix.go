//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package keys

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// errStoreLocked says that another writer, in this process or another,
// holds the store's lock.
var errStoreLocked = errors.New("the store is locked by another writer")

// lockTriesMax bounds the attempts to lock a lock file that its previous
// holder removes under us (see lockStore); each such race needs another
// writer to come and go in between, so two tries nearly always do.
const lockTriesMax = 4

// lockStore takes the store's write lock: an exclusive flock(2) on the
// file at path, which it creates. The lock is the flock, not the file: the
// kernel drops it when the process dies, kill -9 included, so a writer
// that crashed never leaves a stale lock, and a lock file it left behind
// holds no one back. unlock removes the file while still holding the lock,
// then releases it; a failed removal leaves a file that locks nothing.
//
// A writer that opened the file just before its holder removed it would
// lock a file nobody else looks at; so after the flock, lockStore checks
// that path still names the file it locked, and tries again if not.
// errStoreLocked when another writer holds the lock.
func lockStore(path string) (unlock func(), err error) {
	for range lockTriesMax {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, err
		}
		for {
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if !errors.Is(err, syscall.EINTR) {
				break
			}
		}
		if err != nil {
			f.Close() // the lock was not taken; err says why
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, errStoreLocked
			}
			return nil, err
		}
		held, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		if now, err := os.Stat(path); err != nil || !os.SameFile(held, now) {
			f.Close() // removed by the writer before us: lock the new one
			continue
		}
		// The holder's pid, for whoever looks at the file; the lock does
		// not depend on it.
		if err := f.Truncate(0); err == nil {
			fmt.Fprintf(f, "pid %d\n", os.Getpid())
		}
		return func() {
			os.Remove(path) // while locked: see above
			f.Close()       // drops the flock
		}, nil
	}
	return nil, errStoreLocked
}
