// Command citycard is the city card back office in one binary: each
// subcommand is one job of the platform. main only wires packages together.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// env is what every subcommand gets: its environment and its output.
type env struct {
	getenv func(string) string
	stdout io.Writer
	stderr io.Writer
}

// command is one subcommand.
type command struct {
	summary string
	run     func(ctx context.Context, e env, args []string) error
}

// errUsage marks a usage error: main exits with status 2. A bare errUsage
// says the message is printed already (the flag package prints its own);
// an error that wraps it carries the message, which run prints, so that
// no usage error leaves the user without a word.
var errUsage = errors.New("usage")

func commands() map[string]command {
	return map[string]command{
		"trace":      {"run an e-purse flow between a virtual card, PSAM and terminal and print every APDU", runTrace},
		"keys":       {"key management: init, list, rotate, ceremony", runKeys},
		"fare":       {"fare tables: check a GTFS-Fares v2 feed, price a journey", runFare},
		"bench":      {"benchmarks: ingest (upload, verify, book records end to end), clear (a booked day's cycle), gate (an application gate's offline taps), load (online loads over HTTP)", runBench},
		"serve":      {"run the back office's HTTP API: uploads, blacklists, parameters", runServe},
		"ledger":     {"the double-entry ledger: verify the journal's hash chain, show balances", runLedger},
		"float":      {"stored value outstanding per issuer, reconciled: the ledger's float, the card shadows, card management's book", runFloat},
		"demo":       {"the main job: trace a commute, simulate a small city, then serve the web console over it", runDemo},
		"registry":   {"parties (issuers, operators) and terminals, their tokens and status", runRegistry},
		"rejections": {"the rejection journal: list rejected records, resubmit them once staff fixed the cause", runRejections},
		"sim":        {"simulate a city from a seed, end to end over HTTP, and check every invariant", runSim},
		"clear":      {"clearing cycles: run, show, approve and close a business day's cycle", runClear},
		"settle":     {"settlement files of a closed cycle: positions, instructions, pain.001", runSettle},
		"recon":      {"reconciliation: import the bank's statement, list what is open, resolve it", runRecon},
		"card":       {"card management at a service point, through the API: apply, issue, show, loss, replace, refund, adjust", runCard},
		"staff":      {"staff accounts: add (--db: the bootstrap), list, disable, login", runStaff},
		"app":        {"application systems and their entitlements on cards: add, list, grant, revoke, show", runApp},
		"audit":      {"card management's audit log: verify its hash chain", runAudit},
		"interop":    {"interconnection files of the national centre: export a cycle's OUT file, import answers, incoming, error, dispute, city and blacklist files", runInterop},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2) // run printed the message
		}
		fmt.Fprintln(os.Stderr, "citycard:", err)
		os.Exit(1)
	}
}

// run runs the subcommand named by args[0]; it is main without the
// process, so tests run the binary's code end to end.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	e := env{getenv: getenv, stdout: stdout, stderr: stderr}
	cmds := commands()
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout, cmds)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "citycard: unknown command %q\n", args[0])
		usage(stderr, cmds)
		return errUsage
	}
	err := c.run(ctx, e, args[1:])
	if errors.Is(err, errUsage) && err != errUsage {
		msg := strings.TrimSuffix(err.Error(), ": "+errUsage.Error())
		fmt.Fprintf(stderr, "citycard: %s\nRun 'citycard %s -h' for its flags.\n", msg, args[0])
	}
	return err
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: citycard <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "  help       this list")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'citycard <command> -h' for a command's flags.")
}
