package main

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// TestOpenLoopStopsWhenCancelled: a loop far behind its schedule (every
// load queued) stops soon after its context ends, without running the
// loads still queued.
func TestOpenLoopStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Int64
	do := func(_, _ int) error {
		if ran.Add(1) == 10 {
			cancel()
		}
		time.Sleep(time.Millisecond)
		return nil
	}
	_, err := openLoop{rate: 100000, total: 100000, workers: 2, do: do}.run(ctx)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("run: %v, want context.Canceled", err)
	}
	if n := ran.Load(); n > 20 {
		t.Fatalf("%d loads ran after the context ended at the 10th", n)
	}
}
