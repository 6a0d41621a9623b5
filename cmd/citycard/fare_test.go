package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const sampleFeed = "../../fare/testdata/ningbo"

func runFareCmd(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append([]string{"fare"}, args...), func(string) string { return "" }, &out, &errOut)
	return out.String(), errOut.String(), err
}

func TestFareCheck(t *testing.T) {
	out, _, err := runFareCmd(t, "check", "--feed", sampleFeed)
	if err != nil {
		t.Fatalf("fare check: %v", err)
	}
	for _, want := range []string{"ok, version 2025.06-1, currency CNY", "leg rules         15 (7 by distance; rule_priority: true)", "warnings          0"} {
		if !strings.Contains(out, want) {
			t.Errorf("output:\n%s\nwant %q", out, want)
		}
	}
	out, _, err = runFareCmd(t, "check", "--json", "--feed", sampleFeed)
	var s struct {
		Version      string `json:"version"`
		FareProducts int    `json:"fare_products"`
	}
	if err != nil || json.Unmarshal([]byte(out), &s) != nil || s.Version != "2025.06-1" || s.FareProducts != 21 {
		t.Errorf("fare check --json: %v, %+v\n%s", err, s, out)
	}
}

func TestFareCheckReportsErrorsAndWarnings(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("networks.txt", "network_id\nbus\n")
	write("fare_products.txt", "fare_product_id,amount,currency\np,2.00,CNY\n")
	write("fare_leg_rules.txt", "network_id,fare_product_id\ntram,p\n")
	_, errOut, err := runFareCmd(t, "check", "--feed", dir)
	if err != nil || !strings.Contains(errOut, `warning: fare_leg_rules.txt:2: network_id: network "tram" is not defined`) {
		t.Errorf("a dangling network: %v\n%s", err, errOut)
	}
	write("fare_products.txt", "fare_product_id,amount,currency\np,2.0.0,CNY\n")
	_, errOut, err = runFareCmd(t, "check", "--feed", dir)
	if err == nil || !strings.Contains(errOut, `error: fare_products.txt:2: amount: "2.0.0" is not a decimal amount`) {
		t.Errorf("a bad amount: %v\n%s", err, errOut)
	}
}

func TestFarePrice(t *testing.T) {
	journey := filepath.Join(t.TempDir(), "journey.json")
	doc := `{"date":"2025-06-10","fare_media":"citycard","legs":[
		{"route_id":"b1","from_stop_id":"b_train","to_stop_id":"b_gulou","start_time":"08:00:00","end_time":"08:20:00"},
		{"route_id":"m1","from_stop_id":"gulou_1","to_stop_id":"fm","start_time":"08:30:00","end_time":"08:45:00"},
		{"route_id":"b2","start_time":"09:10:00"}]}`
	if err := os.WriteFile(journey, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runFareCmd(t, "price", "--feed", sampleFeed, "--journey", journey)
	if err != nil {
		t.Fatalf("fare price: %v\n%s", err, errOut)
	}
	var q struct {
		Total, Currency string
		Legs            []struct {
			FareProductID string `json:"fare_product_id"`
			Amount        string
			Explanation   string
			Offers        []struct {
				FareProductID string `json:"fare_product_id"`
				Amount        string
				Requires      string
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &q); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	// Bus 2.00; metro 6.5 km 3.00 less the 1.00 transfer discount; bus
	// 2.00 less 1.00.
	if q.Total != "5.00" || q.Currency != "CNY" || len(q.Legs) != 3 {
		t.Fatalf("total %s %s, %d legs; want 5.00 CNY, 3\n%s", q.Total, q.Currency, len(q.Legs), out)
	}
	for i, want := range []string{"bus_single 2.00", "xfer_discount 2.00", "xfer_discount 1.00"} {
		if got := q.Legs[i].FareProductID + " " + q.Legs[i].Amount; got != want || q.Legs[i].Explanation == "" {
			t.Errorf("leg %d: %s (%q), want %s", i, got, q.Legs[i].Explanation, want)
		}
	}
	if o := q.Legs[1].Offers[0]; o.FareProductID != "xfer_discount" || o.Requires != "bus_single" {
		t.Errorf("leg 1 offer %+v, want xfer_discount requiring bus_single", o)
	}
}

func TestFareUsage(t *testing.T) {
	for _, args := range [][]string{
		{"check"},
		{"price", "--feed", sampleFeed},
		{"refund", "--feed", sampleFeed},
		{"check", "--feed", sampleFeed, "--journey", "x.json"},
	} {
		if _, _, err := runFareCmd(t, args...); !errors.Is(err, errUsage) {
			t.Errorf("fare %v: %v, want the usage", args, err)
		}
	}
	if _, _, err := runFareCmd(t, "price", "--feed", sampleFeed, "--journey", filepath.Join(t.TempDir(), "none.json")); err == nil {
		t.Error("fare price of a missing journey file: no error")
	}
}

// TestFarePriceUnpricedLeg: a leg no rule prices does not fail the
// command (it exits 0): the quote shows it with no offers, prices the
// other legs, and says it is not complete.
func TestFarePriceUnpricedLeg(t *testing.T) {
	journey := filepath.Join(t.TempDir(), "journey.json")
	doc := `{"date":"2025-06-10","legs":[
		{"route_id":"b1","start_time":"08:00:00"},
		{"route_id":"s9","from_stop_id":"gq","to_stop_id":"b_train","start_time":"08:30:00","end_time":"09:00:00"}]}`
	if err := os.WriteFile(journey, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err := runFareCmd(t, "price", "--feed", sampleFeed, "--journey", journey)
	if err != nil {
		t.Fatalf("fare price: %v\n%s", err, errOut)
	}
	var q struct {
		Total    string `json:"total"`
		Complete bool   `json:"complete"`
		Legs     []struct {
			Priced bool              `json:"priced"`
			Offers []json.RawMessage `json:"offers"`
		} `json:"legs"`
	}
	if err := json.Unmarshal([]byte(out), &q); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	if q.Total != "2.00" || q.Complete || len(q.Legs) != 2 || !q.Legs[0].Priced || q.Legs[1].Priced || q.Legs[1].Offers == nil || len(q.Legs[1].Offers) != 0 {
		t.Errorf("quote %+v, want total 2.00, incomplete, leg 1 unpriced with offers []\n%s", q, out)
	}
	if !strings.Contains(errOut, "warning: leg 1: not priced: no fare rule prices this leg") {
		t.Errorf("stderr %q does not say leg 1 is not priced", errOut)
	}
}

// TestFareRivertonFeed runs check and price on fare/testdata/riverton, a
// feed built as published agency feeds are, with their defects: it loads
// with warnings (exit 0), and a journey with a leg no rule prices is
// priced but for that leg (exit 0).
func TestFareRivertonFeed(t *testing.T) {
	const feed = "../../fare/testdata/riverton"
	out, errOut, err := runFareCmd(t, "check", "--feed", feed)
	if err != nil || !strings.Contains(out, "ok, version riverton-2025-06, currency USD") || !strings.Contains(out, "warnings          8") ||
		!strings.Contains(errOut, `warning: fare_leg_rules.txt:5: from_timeframe_group_id: timeframe group "weekend" is not in timeframes.txt: the rule never matches`) ||
		!strings.Contains(errOut, `warning: fare_networks.txt: network_id: network "rail" has no maximum fare`) {
		t.Errorf("fare check: %v\n%s\n%s", err, out, errOut)
	}
	journey := filepath.Join(t.TempDir(), "saturday.json")
	doc := `{"date":"2025-06-14","fare_media":"river_card","legs":[{"route_id":"10","start_time":"10:00:00"},{"route_id":"X1","start_time":"10:30:00"}]}`
	if err := os.WriteFile(journey, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	out, errOut, err = runFareCmd(t, "price", "--feed", feed, "--journey", journey)
	if err != nil {
		t.Fatalf("fare price: %v\n%s", err, errOut)
	}
	for _, want := range []string{`"total": "2.00"`, `"complete": false`, `"priced": false`, `"offers": []`} {
		if !strings.Contains(out, want) {
			t.Errorf("fare price output lacks %s:\n%s", want, out)
		}
	}
}
