package main

import (
	"context"
	"fmt"
)

// runDemo is the platform's main job until the city demo exists: the
// richest end-to-end run the code has. A commute traced APDU by APDU
// (card, PSAM, terminal, the record and its TAC verified), then a
// simulated day's records uploaded over HTTP, verified, journaled and
// booked on the embedded SQLite store, with the exactly-once checks.
func runDemo(ctx context.Context, e env, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(e.stderr, "usage: citycard demo [bench ingest flags]\n\nRuns citycard trace commute, then citycard bench ingest (flags pass to it).")
		return errUsage
	}
	fmt.Fprintln(e.stdout, "### 1. A commute, APDU by APDU (citycard trace commute)")
	if err := runTrace(ctx, e, []string{"commute"}); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout)
	fmt.Fprintln(e.stdout, "### 2. A day of records uploaded, verified and booked (citycard bench ingest)")
	return runBench(ctx, e, append([]string{"ingest", "--records", "200000", "--cards", "50000"}, args...))
}
