// The pieces the benches share: the open-loop driver of bench load and
// bench api-check, the latency percentiles, the CPU profile, the bench
// stores and the report.

package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// openLoop is the open-loop driver of bench load and bench api-check:
// operation i is due at start + i/rate, and the next free worker takes
// it. An operation that cannot start on time is late, not skipped, and
// its latency counts from its scheduled start, so that a slow server
// shows in the latency instead of slowing the schedule.
type openLoop struct {
	rate, total, workers int
	// do runs operation i on worker w (0 to workers-1).
	do func(w, i int) error
	// tick, when set, is told every second how many operations are done
	// and how many of them failed.
	tick func(done, errs int64)
}

// openLoopResult is what an open loop measured.
type openLoopResult struct {
	elapsed       time.Duration // from the first operation's schedule to the last one's end
	errs, late    int64         // late: started more than 1 ms after its schedule
	firstErr      string        // the first error seen, or ""
	p50, p99, max time.Duration // latencies from the scheduled start
}

// run drives the loop to its end, or until ctx is done (then its error).
func (l openLoop) run(ctx context.Context) (openLoopResult, error) {
	type job struct {
		i   int
		due time.Time
	}
	jobs := make(chan job, l.total)
	lat := make([]time.Duration, l.total)
	var done, errs, late atomic.Int64
	var firstErr atomic.Pointer[string]
	start := time.Now().Add(10 * time.Millisecond)
	go func() {
		defer close(jobs)
		for i := range l.total {
			due := start.Add(time.Duration(i) * time.Second / time.Duration(l.rate))
			if d := time.Until(due); d > 0 {
				select {
				case <-time.After(d):
				case <-ctx.Done():
					return
				}
			}
			jobs <- job{i: i, due: due}
		}
	}()
	if l.tick != nil {
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					l.tick(done.Load(), errs.Load())
				}
			}
		}()
	}
	var wg sync.WaitGroup
	var idx atomic.Int64
	for w := range l.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				if ctx.Err() != nil {
					return // the loads queued while late are dropped, not run
				}
				if time.Since(j.due) > time.Millisecond {
					late.Add(1)
				}
				err := l.do(w, j.i)
				lat[idx.Add(1)-1] = time.Since(j.due)
				done.Add(1)
				if err != nil {
					errs.Add(1)
					msg := err.Error()
					firstErr.CompareAndSwap(nil, &msg)
				}
			}
		}()
	}
	wg.Wait()
	r := openLoopResult{elapsed: time.Since(start), errs: errs.Load(), late: late.Load()}
	if err := ctx.Err(); err != nil {
		return r, err
	}
	if p := firstErr.Load(); p != nil {
		r.firstErr = *p
	}
	slices.Sort(lat)
	r.p50, r.p99, r.max = percentiles(lat)
	return r, nil
}

// percentiles returns the p50, p99 and max of sorted durations, zeros
// when there are none.
func percentiles(sorted []time.Duration) (p50, p99, max time.Duration) {
	n := len(sorted)
	if n == 0 {
		return 0, 0, 0
	}
	return sorted[n/2], sorted[min(n-1, n*99/100)], sorted[n-1]
}

// msOf is a duration in milliseconds, to the microsecond.
func msOf(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// startCPUProfile writes a CPU profile to path until stop is called; an
// empty path profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// openBenchStores opens the stores of bench ingest, load and api-check
// on db (see benchDB) and takes the writer's lock; done releases the
// lock, closes the stores and drops what benchDB made, in that order.
func openBenchStores(ctx context.Context, e env, db string) (st *stores, done func(), err error) {
	url, dropDB, err := benchDB(ctx, db, "citycard-bench-")
	if err != nil {
		dropDB()
		return nil, nil, err
	}
	if st, err = openStores(ctx, url); err != nil {
		dropDB()
		return nil, nil, err
	}
	lock, err := lockWriter(ctx, st)
	if err != nil {
		st.close()
		dropDB()
		return nil, nil, fmt.Errorf("bench: %w", err)
	}
	return st, func() { releaseWriter(lock, e.stderr); st.close(); dropDB() }, nil
}

// reportBench prints a bench's result res, and with asJSON the JSON line
// after it; it fails, naming the bench, when ok (the result's checks) is
// false.
func reportBench(e env, bench string, res interface{ print(io.Writer) }, ok, asJSON bool) error {
	res.print(e.stdout)
	if asJSON {
		if err := jsonLine(e.stdout, res); err != nil {
			return err
		}
	}
	if !ok {
		return fmt.Errorf("%s: a check failed (see above)", bench)
	}
	return nil
}
