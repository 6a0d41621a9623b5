package filelock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestLock: one holder at a time, in this process and from another; a
// closed lock is free again; a file replaced under a holder does not let
// a second holder share the name with it.
func TestLock(t *testing.T) {
	if !Supported {
		t.Skip("no flock(2) here")
	}
	path := filepath.Join(t.TempDir(), "x.lock")
	f, err := Lock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second lock in this process: %v, want ErrLocked", err)
	}
	if os.Getenv("FILELOCK_CHILD") == "" {
		cmd := exec.Command(os.Args[0], "-test.run", "^TestChild$")
		cmd.Env = append(os.Environ(), "FILELOCK_CHILD="+path)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("the other process: %v\n%s", err, out)
		}
	}
	f.Close()
	g, err := Lock(path)
	if err != nil {
		t.Fatalf("after the holder closed: %v", err)
	}
	defer g.Close()
	// Replaced under its holder: the next locker locks the new file.
	if err := os.Rename(path, path+".old"); err != nil {
		t.Fatal(err)
	}
	h, err := Lock(path)
	if err != nil {
		t.Fatalf("the replaced name: %v", err)
	}
	h.Close()
}

// TestChild is the other process of TestLock: the lock it asks for is held.
func TestChild(t *testing.T) {
	path := os.Getenv("FILELOCK_CHILD")
	if path == "" {
		t.Skip("run by TestLock")
	}
	if _, err := Lock(path); !errors.Is(err, ErrLocked) {
		t.Fatalf("another process's lock: %v, want ErrLocked", err)
	}
}
