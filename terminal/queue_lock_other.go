//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package terminal

import (
	"errors"
	"os"
)

// errQueueLocked says that another Queue holds the queue. Without flock(2)
// it is never returned: on these systems nothing stops two Queues on one
// file, and the caller must not open one twice.
var errQueueLocked = errors.New("queue is open elsewhere")

// lockQueueFile opens path as the lock file, without locking it.
func lockQueueFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
