package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// TestUsageErrorsSpeak: a usage error found after the flags parse (a bad
// value, a missing partner flag) prints its message, naming the flag, and
// still exits as a usage error.
func TestUsageErrorsSpeak(t *testing.T) {
	for _, c := range []struct {
		args []string
		flag string
	}{
		{[]string{"trace", "purchase", "--tear", "middle"}, "--tear"},
		{[]string{"bench", "ingest", "--records", "0"}, "--records"},
		{[]string{"serve", "--tls-cert", "a"}, "--tls-cert"},
	} {
		var out, errOut bytes.Buffer
		err := run(context.Background(), c.args, func(string) string { return "" }, &out, &errOut)
		if !errors.Is(err, errUsage) {
			t.Errorf("%v: err = %v, want a usage error", c.args, err)
		}
		msg := errOut.String()
		if !strings.Contains(msg, c.flag) || !strings.Contains(msg, "citycard "+c.args[0]+" -h") {
			t.Errorf("%v: stderr %q: want a message naming %s and pointing to -h", c.args, msg, c.flag)
		}
		if strings.Contains(msg, ": usage") {
			t.Errorf("%v: stderr %q shows the sentinel", c.args, msg)
		}
	}
}
