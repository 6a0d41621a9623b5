//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package filelock

import (
	"errors"
	"os"
	"syscall"
)

// Supported says whether Lock really locks on this system.
const Supported = true

// Lock takes an exclusive lock on the file at path, creating it (mode
// 0600), without waiting. The lock lives as long as the returned file:
// closing it, or the process's death, releases it. ErrLocked when another
// open file holds it; the errors of open, flock and stat otherwise.
func Lock(path string) (*os.File, error) {
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
			_ = f.Close() // the lock was not taken; err says why
			if errors.Is(err, syscall.EWOULDBLOCK) {
				return nil, ErrLocked
			}
			return nil, err
		}
		held, err := f.Stat()
		if err != nil {
			_ = f.Close()
			return nil, err
		}
		if named, err := os.Stat(path); err == nil && os.SameFile(held, named) {
			return f, nil
		}
		_ = f.Close() // replaced or removed under us: lock what the path names now
	}
	return nil, errors.New("filelock: the lock file keeps being replaced")
}
