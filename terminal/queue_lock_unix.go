//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package terminal

import (
	"errors"
	"os"
	"syscall"
)

// errQueueLocked says that another Queue, in this process or another, holds
// the queue.
var errQueueLocked = errors.New("queue is open elsewhere")

// lockQueueFile takes an exclusive flock(2) on path, creating it. The lock
// lives as long as the returned file; the kernel drops it when the process
// dies, kill -9 included. A separate lock file is needed because compaction
// replaces the queue file, and a lock on the old inode would not cover the
// new one.
func lockQueueFile(path string) (*os.File, error) {
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
			return nil, errQueueLocked
		}
		return nil, err
	}
	return f, nil
}
