//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package keys

import (
	"errors"
	"fmt"
	"os"

	"github.com/citycard/citycard/filelock"
)

// errStoreLocked says that another writer, in this process or another,
// holds the store's lock.
var errStoreLocked = errors.New("the store is locked by another writer")

// lockStore takes the store's write lock: a filelock on the file at path,
// which it creates. The lock is the flock, not the file: the kernel drops
// it when the process dies, kill -9 included, so a writer that crashed
// never leaves a stale lock, and a lock file it left behind holds no one
// back. unlock removes the file while still holding the lock, then
// releases it; a failed removal leaves a file that locks nothing (and
// filelock checks that the file it locks is the one the path names).
// errStoreLocked when another writer holds the lock.
func lockStore(path string) (unlock func(), err error) {
	f, err := filelock.Lock(path)
	if errors.Is(err, filelock.ErrLocked) {
		return nil, errStoreLocked
	}
	if err != nil {
		return nil, err
	}
	// The holder's pid, for whoever looks at the file; the lock does not
	// depend on it.
	if err := f.Truncate(0); err == nil {
		fmt.Fprintf(f, "pid %d\n", os.Getpid())
	}
	return func() {
		os.Remove(path) // while locked: see above
		f.Close()       // drops the flock
	}, nil
}
