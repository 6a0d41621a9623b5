package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/sqlite"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/terminal"
)

const traceUsage = `usage: citycard trace purchase|load|commute [flags]

Runs one e-purse flow between a fresh virtual card, a PSAM and a terminal,
printing every APDU (hex, then its decoded meaning), then the record, the
algorithm, and the verification of its TAC and record MAC.

  purchase  a load at a service point, then a purchase at a POS (8050 01)
  load      a load at a service point (8050 00, host MAC2, 8052)
  commute   a load, then tap-on and tap-off at metro gates (8050 03, 80DC)

--tear STEP makes the card lose power at the final DEBIT or CREDIT:
  before   before the card commits (nothing debited)
  after    after the card commits, its answer lost (a grey record)
and then shows the card's next tap recovering it (GET TRANSACTION PROOF).

flags:
`

// traceIssuer is the issuer code the trace personalizes cards for: city
// code 3150 (Ningbo-like), institution 0001.
var traceIssuer = citycard.IssuerCode{0x31, 0x50, 0x00, 0x01, 0xFF, 0xFF, 0xFF, 0xFF}

func runTrace(ctx context.Context, e env, args []string) error {
	fs := flag.NewFlagSet("trace", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() { fmt.Fprint(e.stderr, traceUsage); fs.PrintDefaults() }
	algName := fs.String("alg", "3des", "card algorithm: 3des or sm4")
	profileName := fs.String("profile", "mohurd", "card profile: citizen, mohurd or mot")
	tear := fs.String("tear", "", "tear the card at the final DEBIT/CREDIT: before or after")
	amount := fs.Uint("amount", 200, "purchase amount in fen (purchase flow)")
	loadFen := fs.Uint("load", 5000, "load amount in fen")
	flow, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if flow != "purchase" && flow != "load" && flow != "commute" {
		fs.Usage()
		return fmt.Errorf("trace: want one flow, purchase, load or commute, have %q: %w", flow, errUsage)
	}
	alg, err := keys.ParseAlg(*algName)
	if err != nil {
		return err
	}
	profile, err := card.ParseProfile(*profileName)
	if err != nil {
		return err
	}
	var tearStep card.TearStep
	switch *tear {
	case "":
		tearStep = card.TearNone
	case "before":
		tearStep = card.TearBeforeCommit
	case "after":
		tearStep = card.TearAfterCommit
	default:
		return fmt.Errorf("trace: --tear %q: want before or after: %w", *tear, errUsage)
	}
	dir, err := os.MkdirTemp("", "citycard-trace-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	tr := &tracer{w: e.stdout}
	return traceFlow(tr, flow, alg, profile, tearStep, uint32(*amount), uint32(*loadFen), dir)
}

// parseInterspersed parses flags that may come before or after the one
// positional argument, which it returns.
func parseInterspersed(fs *flag.FlagSet, args []string) (string, error) {
	pos, err := parsePositional(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		fs.Usage()
		return "", fmt.Errorf("want one argument, have %d (%s): %w", len(pos), strings.Join(pos, " "), errUsage)
	}
	return pos[0], nil
}

// parsePositional parses flags anywhere among args and returns the
// arguments that are not flags, in order.
func parsePositional(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// tracer prints the APDUs that pass through the transports it wraps.
type tracer struct {
	w io.Writer
}

type tracedTransport struct {
	tr       *tracer
	name     string
	t        apdu.Transport
	describe func(cmd, resp []byte) string
}

func (tr *tracer) wrap(name string, t apdu.Transport, describe func(cmd, resp []byte) string) apdu.Transport {
	return &tracedTransport{tr: tr, name: name, t: t, describe: describe}
}

func (t *tracedTransport) Transmit(cmd []byte) ([]byte, error) {
	resp, err := t.t.Transmit(cmd)
	fmt.Fprintf(t.tr.w, "-> %-5s %s\n", t.name, apdu.Hex(cmd))
	if err != nil {
		fmt.Fprintf(t.tr.w, "<- %-5s (no answer: %v)\n", t.name, err)
		return resp, err
	}
	fmt.Fprintf(t.tr.w, "<- %-5s %s\n", t.name, apdu.Hex(resp))
	fmt.Fprintf(t.tr.w, "   %-5s %s\n", "", t.describe(cmd, resp))
	return resp, err
}

func (tr *tracer) section(format string, args ...any) {
	fmt.Fprintf(tr.w, "\n== "+format+"\n", args...)
}

// traceWorld is the platform in miniature a trace runs in.
type traceWorld struct {
	store  *keys.MemStore
	vendor *terminal.PSAMVendor // the PSAMs' vendor, with its copy of the transport master key
	card   *card.Card
	cardT  apdu.Transport
	now    time.Time
}

func newTraceWorld(tr *tracer, alg keys.Alg, profile card.Profile) (*traceWorld, error) {
	w := &traceWorld{store: keys.NewMemStore(), now: time.Date(2026, 11, 24, 8, 30, 15, 0, citycard.ChinaTime)}
	tr.section("key store: issuer %v, master keys v1, %v (generated for this trace)", traceIssuer, alg)
	for _, t := range append(append([]keys.KeyType(nil), keys.CardKeyTypes...), keys.KeyRecord, keys.KeyTransport) {
		k := make([]byte, keys.KeyLen)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		info, err := w.store.Put(keys.Ref{Issuer: traceIssuer, Type: t, Version: 1}, alg, k, "generated", w.now)
		if err != nil {
			return nil, err
		}
		fmt.Fprintf(tr.w, "   %-38v %v KCV %X\n", info.Ref, info.Alg, info.KCV)
		if t == keys.KeyTransport {
			// The vendor's copy, as the key ceremony gives it one.
			w.vendor, err = terminal.NewPSAMVendor(info.Ref, alg, k)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(tr.w, "   the PSAM vendor holds %v too: each PSAM ships with it diversified by the PSAM ID,\n", info.Ref)
			fmt.Fprintf(tr.w, "   and master keys reach a PSAM only wrapped under that key, by the store\n")
		}
		clear(k)
	}

	asn := citycard.ASN{0, 0, 0x31, 0x50, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78}
	if profile.ASNLen() == 10 {
		asn = citycard.ASN{0x31, 0x50, 0x00, 0x01, 0x00, 0x00, 0x12, 0x34, 0x56, 0x78}
	}
	ks, err := card.DeriveKeySet(w.store, traceIssuer, asn, 1)
	if err != nil {
		return nil, err
	}
	start, _ := citycard.DateTime(w.now.AddDate(-1, 0, 0))
	expiry, _ := citycard.DateTime(w.now.AddDate(5, 0, 0))
	w.card, err = card.New(card.Config{
		Profile: profile, Issuer: traceIssuer, ASN: asn, CardType: 0x01, RiderCategory: 0x00,
		Start: start, Expiry: expiry, KeySets: []card.KeySet{ks},
	})
	if err != nil {
		return nil, err
	}
	tr.section("card: %v profile, ASN %v, AID %X, keys v1 diversified by ASN, balance 0", profile, asn, profile.AID())
	w.cardT = tr.wrap("card", w.card, card.Describe)
	return w, nil
}

// terminalAt provisions a PSAM and a terminal in mode at the given place.
func (w *traceWorld) terminalAt(tr *tracer, dir, name string, n byte, mode terminal.Mode, station uint32, fare terminal.Fare, at *time.Time) (*terminal.Terminal, *terminal.Queue, error) {
	psamID := citycard.PSAMID{0x31, 0x50, 0, 0, 0, 0, 0, 0, 0x10, n}
	tid := citycard.TerminalID{0x31, 0x50, 0, 0, 0x20, n}
	psam := w.vendor.NewPSAM(psamID)
	if err := terminal.ProvisionPSAM(w.store, psam, tid, terminal.PSAMKeys{
		Operator: traceIssuer, RecordKeyVersion: 1,
		Issuers: []keys.Ref{
			{Issuer: traceIssuer, Type: keys.KeyPurchase, Version: 1},
			{Issuer: traceIssuer, Type: keys.KeyMaintenance, Version: 1},
		},
	}, 1); err != nil {
		return nil, nil, err
	}
	q, err := terminal.OpenQueue(filepath.Join(dir, name+".queue"))
	if err != nil {
		return nil, nil, err
	}
	t, err := terminal.New(terminal.Config{
		PSAM: tr.wrap("PSAM", psam, terminal.DescribePSAM), PSAMID: psamID, RecordKeyVersion: 1,
		Mode: mode, Network: 1, Line: 1, Station: station, Fare: fare, Spool: q,
		KeyVersions: []uint8{1}, MaintenanceKeyVersion: 1,
		Now: func() time.Time { return *at },
	})
	if err != nil {
		q.Close()
		return nil, nil, err
	}
	return t, q, nil
}

func traceFlow(tr *tracer, flow string, alg keys.Alg, profile card.Profile, tear card.TearStep, amountFen, loadFen uint32, dir string) error {
	w, err := newTraceWorld(tr, alg, profile)
	if err != nil {
		return err
	}
	at := w.now
	host, closeHost, err := traceLoadHost(tr, w, dir, &at)
	if err != nil {
		return err
	}
	defer closeHost()

	tr.section("service point %s: load %s", "SP01", fen(loadFen))
	sp, spq, err := w.terminalAt(tr, dir, "sp", 1, terminal.ModePOS, 0, terminal.FlatFare{}, &at)
	if err != nil {
		return err
	}
	defer spq.Close()
	if flow == "load" {
		w.card.Tear(tear)
	}
	lr, err := sp.Load(w.cardT, loadFen, host)
	var final record.Record
	switch {
	case flow == "load" && tear != card.TearNone:
		fmt.Fprintf(tr.w, "\nthe card tore during CREDIT FOR LOAD (%v): %v\n", tear, err)
		at = at.Add(time.Minute)
		tr.section("the card comes back to the service point: the lost load is recovered first, then a new load")
		lr, err = sp.Load(w.cardT, loadFen, host)
		if err != nil {
			return err
		}
		if lr.Recovered != nil {
			fmt.Fprintf(tr.w, "\nrecovered load record (status %v): TAC %X\n", lr.Recovered.Status, lr.Recovered.TAC)
		} else {
			fmt.Fprintln(tr.w, "\nthe card had not credited: nothing to recover; the host, seeing the card's new session at the same online counter, reversed the unconfirmed load")
		}
		final = lr.Record
	case err != nil:
		return err
	default:
		final = lr.Record
		fmt.Fprintf(tr.w, "\nbalance after the load: %s\n", fen(lr.BalanceAfter))
	}

	if flow != "load" {
		var final2 record.Record
		final2, err = tracePurchase(tr, w, flow, tear, amountFen, dir, &at)
		if err != nil {
			return err
		}
		final = final2
	}
	return printRecord(tr, w.store, final)
}

func tracePurchase(tr *tracer, w *traceWorld, flow string, tear card.TearStep, amountFen uint32, dir string, at *time.Time) (record.Record, error) {
	var t *terminal.Terminal
	var q *terminal.Queue
	var err error
	amount := amountFen
	if flow == "purchase" {
		*at = at.Add(10 * time.Minute)
		tr.section("POS: purchase of %s (INITIALIZE FOR PURCHASE, MAC1 by the PSAM, DEBIT)", fen(amountFen))
		if t, q, err = w.terminalAt(tr, dir, "pos", 2, terminal.ModePOS, 0, terminal.FlatFare{}, at); err != nil {
			return record.Record{}, err
		}
	} else {
		fare := terminal.SectionFare{Network: 1, BaseFen: 200, BaseStations: 6, StepFen: 100, StepStations: 4, MaxFen: 700}
		*at = at.Add(10 * time.Minute)
		tr.section("metro gate at station 3: tap-on (composite purchase, journey record written)")
		on, onq, err := w.terminalAt(tr, dir, "gate-in", 3, terminal.ModeTapOn, 3, fare, at)
		if err != nil {
			return record.Record{}, err
		}
		defer onq.Close()
		r, err := on.Tap(w.cardT, 0)
		if err != nil {
			return record.Record{}, err
		}
		fmt.Fprintf(tr.w, "\ntap-on: %s; record counter %d, TAC %X\n", r.Explanation, r.Record.Counter, r.Record.TAC)
		*at = at.Add(25 * time.Minute)
		tr.section("metro gate at station 14: tap-off (reads the entry, prices the leg, debits)")
		if t, q, err = w.terminalAt(tr, dir, "gate-out", 4, terminal.ModeTapOff, 14, fare, at); err != nil {
			return record.Record{}, err
		}
		amount = 0
	}
	defer q.Close()
	w.card.Tear(tear)
	res, err := t.Tap(w.cardT, amount)
	if tear == card.TearNone {
		if err != nil {
			return record.Record{}, err
		}
		fmt.Fprintf(tr.w, "\n%s; balance after: %s\n", res.Explanation, fen(res.BalanceAfter))
		return res.Record, nil
	}
	if !res.Grey {
		return record.Record{}, fmt.Errorf("trace: the card tore but the terminal kept no grey record: %v", err)
	}
	fmt.Fprintf(tr.w, "\nthe card tore during DEBIT (%v): %v\n", tear, err)
	tr.section("grey record (status %v, no TAC), spooled and awaiting the card's next tap", res.Record.Status)
	if err := printJSON(tr.w, &res.Record); err != nil {
		return record.Record{}, err
	}
	*at = at.Add(2 * time.Minute)
	tr.section("the card's next tap on the same terminal: balance and log re-read, GET TRANSACTION PROOF, then the new tap")
	res2, err := t.Tap(w.cardT, amount)
	if err != nil {
		return record.Record{}, err
	}
	if res2.Recovered == nil {
		fmt.Fprintln(tr.w, "\nthe card had not debited: the grey record stays spooled and the back office releases it when this tap's record shows the same counter")
		return res2.Record, nil
	}
	fmt.Fprintf(tr.w, "\nrecovered the torn purchase: status %v, TAC %X; the new tap: %s\n", res2.Recovered.Status, res2.Recovered.TAC, res2.Explanation)
	return *res2.Recovered, nil
}

func printJSON(w io.Writer, r *record.Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// printRecord prints the record, its binary form, the algorithm and the
// result of verifying it with the key store, as the back office will.
func printRecord(tr *tracer, store keys.Store, r record.Record) error {
	// Verified first, as the back office will: the record MAC, then the TAC.
	err := record.NewVerifier(store, traceIssuer).Verify(&r)
	tr.section("record (%d bytes binary, sealed by the PSAM; record MAC and TAC checked with the key store)", record.Size)
	if err := printJSON(tr.w, &r); err != nil {
		return err
	}
	bin, merr := r.MarshalBinary()
	if merr != nil {
		return merr
	}
	fmt.Fprintf(tr.w, "binary: %X\n", bin)
	fmt.Fprintf(tr.w, "algorithm: %v\n", r.Alg)
	if err != nil {
		return fmt.Errorf("trace: record does not verify: %w", err)
	}
	fmt.Fprintln(tr.w, "TAC verified")
	return nil
}

func fen[T uint32 | int64](v T) string { return citycard.Yuan(int64(v)) + " yuan" }

// traceLoadHost is the issuer's load host of a trace: card management
// (package cms) on a SQLite file in dir, the trace's card sold in it as a
// transit card, the host checking MACs under the trace's key store. Its
// clock is the trace's.
func traceLoadHost(tr *tracer, w *traceWorld, dir string, at *time.Time) (terminal.LoadHost, func() error, error) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(dir, "cms.db"))
	if err != nil {
		return nil, nil, err
	}
	now := func() time.Time { return *at }
	m := cms.NewManager(cms.NewGroupCommit(db.CMS()), cms.DefaultProducts(), nil, now)
	clerk := cms.Actor{Who: "trace", ServicePoint: "SP01"}
	asn := w.card.State().ASN
	cash := cms.Channel{Type: cms.Cash, Party: traceIssuer.String()}
	if _, err := m.Apply(ctx, clerk, traceIssuer, asn, "transit", 0); err == nil {
		if _, err = m.Move(ctx, clerk, traceIssuer, asn, cms.Personalize); err == nil {
			_, err = m.Sell(ctx, clerk, "trace-sale", traceIssuer, asn, cash, 0)
		}
	}
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	tr.section("card management: the card sold as a transit card; the load host books loads there and checks MAC1 and the TAC under keys v1")
	host := cms.TerminalHost{Host: cms.NewLoadHost(m, w.store, nil), Actor: clerk, Channel: cash}
	return host, db.Close, nil
}
