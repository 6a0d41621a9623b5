//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sqlite

import (
	"errors"
	"os"
)

// errLocked says that another open file holds the lock. Without flock(2)
// it is never returned: on these systems nothing stops a second writer
// but the journal's position check.
var errLocked = errors.New("locked")

// lockFile opens path as the lock file, without locking it.
func lockFile(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
