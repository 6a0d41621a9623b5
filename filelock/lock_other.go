//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package filelock

import "os"

// Supported says whether Lock really locks on this system.
const Supported = false

// Lock opens (creating) the file at path without locking it: this system
// has no flock(2). It never returns ErrLocked.
func Lock(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
}
