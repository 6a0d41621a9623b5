package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// TestBenchGate runs `bench gate --json` for each application the README
// names: every tap allowed, every record verified (a bike's pair: its
// hire, its return and the return's purchase), and the last stdout
// line the JSON object with taps, taps_per_s and p99_ms.
func TestBenchGate(t *testing.T) {
	for _, app := range []string{"campus", "venue", "library", "site", "parking", "bike"} {
		var out, errOut bytes.Buffer
		args := []string{"bench", "gate", "--app", app, "--taps", "60", "--json"}
		perTap := 1.0
		if app == "bike" {
			args, perTap = append(args, "--feed", "../../fare/testdata/ningbo"), 3
		}
		err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut)
		if err != nil {
			t.Fatalf("%s: %v\n%s%s", app, err, out.String(), errOut.String())
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var res map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
			t.Fatalf("%s: last line %q: %v", app, lines[len(lines)-1], err)
		}
		if res["taps"] != 60.0 || res["allowed"] != 60.0 || res["verified"] != 60*perTap || res["app"] != app {
			t.Fatalf("%s: %v", app, res)
		}
		for _, k := range []string{"taps_per_s", "p99_ms"} {
			if v, ok := res[k].(float64); !ok || v <= 0 {
				t.Fatalf("%s: %s = %v", app, k, res[k])
			}
		}
	}
}

func TestBenchGateUsage(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "gate", "--app", "canteen"},
		{"bench", "gate", "--taps", "0"},
		{"bench", "gate", "extra"},
		{"bench", "gate", "--app", "bike"},                                           // no fare table
		{"bench", "gate", "--app", "campus", "--feed", "../../fare/testdata/ningbo"}, // a feed for no bike
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, func(string) string { return "" }, &out, &errOut); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
}
