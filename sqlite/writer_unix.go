//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sqlite

import (
	"errors"
	"os"
	"syscall"
)

// errLocked says that another open file (in this process or another)
// holds the lock.
var errLocked = errors.New("locked")

// lockFileTries bounds the retries when the lock file is replaced between
// its open and its lock.
const lockFileTries = 3

// lockFile takes an exclusive flock(2) on path, creating it, without
// waiting. The lock lives as long as the returned file. The file is never
// removed (removing it would let a second process lock a new file while
// the first holds the old one); if someone replaces it between the open
// and the lock, the lock covers a file no one else will open, so lockFile
// checks that the path still names the locked file and tries again if
// not.
func lockFile(path string) (*os.File, error) {
	for range lockFileTries {
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
			_ = f.Close() // the lock was not taken; err says why
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, errLocked
			}
			return nil, err
		}
		held, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		named, err := os.Stat(path)
		if err == nil && os.SameFile(held, named) {
			return f, nil
		}
		_ = f.Close() // a stale file: try the one the path names now
	}
	return nil, errors.New("the lock file keeps being replaced")
}
