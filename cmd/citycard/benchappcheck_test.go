package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestBenchAppCheck runs `bench api-check --json` briefly: every check
// answered allowed, and the last stdout line the JSON object with
// checks, errors, p50_ms and p99_ms.
func TestBenchAppCheck(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), []string{"bench", "api-check", "--rate", "200", "--seconds", "1", "--cards", "50", "--clients", "4", "--json"}, func(string) string { return "" }, &out, &errOut)
	if err != nil {
		t.Fatalf("%v\n%s%s", err, out.String(), errOut.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	if res["checks"] != 200.0 || res["errors"] != 0.0 || res["ok"] != true {
		t.Fatalf("%v", res)
	}
	for _, k := range []string{"p50_ms", "p99_ms", "cpu_ms_per_check"} {
		if v, ok := res[k].(float64); !ok || v <= 0 {
			t.Fatalf("%s = %v", k, res[k])
		}
	}
}

func TestBenchAppCheckUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "api-check", "--rate", "0"},
		{"bench", "api-check", "--seconds", "3601"},
		{"bench", "api-check", "--clients", "0"},
		{"bench", "api-check", "extra"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
