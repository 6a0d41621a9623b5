//go:build !linux

package main

import "time"

const cpuSource = "process"

// cpuNow is the process's CPU time, user plus system: outside Linux there
// is no per-thread figure here, and the gate bench's taps run on one core
// anyway (the figure is coarser: getrusage counts in scheduler ticks).
func cpuNow() time.Duration { return processCPU() }
