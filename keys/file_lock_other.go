//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package keys

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// errStoreLocked says that another writer holds the store's lock.
var errStoreLocked = errors.New("the store is locked by another writer")

// lockStore takes the store's write lock where there is no flock(2): it
// creates the file at path, failing if it exists, and unlock removes it.
// A writer that dies between the two leaves the file behind, and it must
// be removed by hand once no citycard runs (the error says so).
func lockStore(path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("%w (remove %s if no citycard is running)", errStoreLocked, path)
	}
	if err != nil {
		return nil, err
	}
	_, err = fmt.Fprintf(f, "pid %d\n", os.Getpid())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return nil, err
	}
	return func() { os.Remove(path) }, nil
}
