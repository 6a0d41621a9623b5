package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/cms"
)

// TestAppCommands: app add prints the token alone on its last line; grant
// and revoke move the card's file version; show --json speaks snake_case;
// bad input is a usage error or a named one, and changes nothing.
func TestAppCommands(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "a.db")
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"app", "--db", db}, args...), func(string) string { return "" }, &out, &errOut)
		return out.String(), err
	}
	out, err := cli("add", "--id", "nb-library", "--name", "Ningbo Library", "--kind", "library", "--scope", "1", "--party", "nb-library", "--webhook", "https://library.example/citycard")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if err != nil || len(lines[len(lines)-1]) != 64 {
		t.Fatalf("add: the last line of %q is not the token (%v)", out, err)
	}
	const cardArg = "3301000000000000/33010000000000000001"
	// The card, known to card management (a transit card, sold
	// anonymous): grant asks it first.
	st, err := openStores(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	p, err := cms.NewProtector(bytes.Repeat([]byte{7}, cms.DataKeyLen), nil)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := apps.ParseCard(cardArg)
	if _, err := cms.NewManager(st.cms, cms.DefaultProducts(), p, time.Now).Apply(context.Background(), cms.Actor{Who: "ann", ServicePoint: "nb-counter-01"}, c.Issuer, c.ASN, "transit", 0); err != nil {
		t.Fatal(err)
	}
	st.close()
	unknown := "3301000000000000/33010000000000000002"
	if _, err := cli("grant", "--app", "nb-library", "--card", unknown, "--from", "20250301", "--to", "20260228"); citycard.KindOf(err) != citycard.NotFound {
		t.Errorf("a grant on a card card management does not know: %v, want not found", err)
	}
	for i, want := range []string{"version 1", "version 2"} {
		out, err := cli("grant", "--app", "nb-library", "--card", cardArg, "--from", "20250301", "--to", "20260228", "--limit", "10")
		if err != nil || !strings.Contains(out, want) {
			t.Fatalf("grant %d: %q, %v; want %s", i, out, err, want)
		}
	}
	if out, err := cli("revoke", "--app", "nb-library", "--card", cardArg); err != nil || !strings.Contains(out, "version 3") {
		t.Fatalf("revoke: %q, %v", out, err)
	}
	out, err = cli("show", "--app", "nb-library", "--card", cardArg, "--json")
	var g map[string]any
	if err != nil || json.Unmarshal([]byte(out), &g) != nil || g["state"] != "revoked" || g["valid_to"] != "20260228" || g["limit"] != 10.0 {
		t.Fatalf("show --json = %q, %v", out, err)
	}
	out, err = cli("report", "--app", "nb-library", "--date", "20250301", "--json")
	if err != nil || strings.TrimSpace(out) != `{"app":"nb-library","date":"20250301","actions":[]}` {
		t.Fatalf("report of a day without records: %q, %v", out, err)
	}
	out, err = cli("list", "--json")
	if err != nil || !strings.Contains(out, `"id":"nb-library"`) || !strings.Contains(out, `"kind":"library"`) {
		t.Fatalf("list --json = %q, %v", out, err)
	}
	for _, c := range []struct {
		args  []string
		usage bool
	}{
		{[]string{"grant", "--app", "nb-library", "--card", cardArg, "--from", "20250301"}, true},                        // --to missing
		{[]string{"grant", "--app", "nb-library", "--card", cardArg, "--from", "20250301", "--to", "2026-02-28"}, false}, // not YYYYMMDD
		{[]string{"grant", "--app", "nb-library", "--card", cardArg, "--from", "20250301", "--to", "20260228", "--limit", "65536"}, true},
		{[]string{"grant", "--app", "nb-library", "--card", "3301/1", "--from", "20250301", "--to", "20260228"}, false},
		{[]string{"frobnicate"}, true},
		{[]string{"report", "--app", "nb-library"}, true}, // --date missing
	} {
		_, err := cli(c.args...)
		if err == nil || errors.Is(err, errUsage) != c.usage {
			t.Errorf("%v: %v, want an error (usage %v)", c.args, err, c.usage)
		}
	}
	// Nothing changed: still revoked at version 3 (a grant would make it 4).
	if out, _ := cli("show", "--app", "nb-library", "--card", cardArg); !strings.Contains(out, "revoked") {
		t.Errorf("after the refused grants: %q, want revoked", out)
	}
	if out, err := cli("grant", "--app", "nb-library", "--card", cardArg, "--from", "20250301", "--to", "20260228"); err != nil || !strings.Contains(out, "version 4") {
		t.Errorf("a grant after the refused ones: %q, %v; want version 4", out, err)
	}
	// quarantine lists the audit records the lifecycle passed over.
	if out, err := cli("quarantine", "--json"); err != nil || strings.TrimSpace(out) != "[]" {
		t.Fatalf("quarantine of none: %q, %v", out, err)
	}
	st, err = openStores(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.apps.Quarantine(context.Background(), apps.Quarantined{Seq: 7, Subject: "card:x", Action: "replace", Reason: "audit record 7: subject: bad", At: time.Unix(1740816000, 0)}); err != nil {
		t.Fatal(err)
	}
	st.close()
	if out, err := cli("quarantine"); err != nil || !strings.Contains(out, "7") || !strings.Contains(out, "audit record 7: subject: bad") {
		t.Fatalf("quarantine: %q, %v", out, err)
	}
}

// TestAppReportAttendance: citycard app report attendance prints a
// class's day as a table, CSV or JSON (one check-in at the late time,
// present); a class, date or late time missing or malformed is refused,
// as the library's attendance.
func TestAppReportAttendance(t *testing.T) {
	db := "sqlite:" + filepath.Join(t.TempDir(), "a.db")
	cli := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"app", "--db", db}, args...), func(string) string { return "" }, &out, &errOut)
		return out.String(), err
	}
	for _, add := range [][]string{{"--id", "nb-school-7", "--name", "No. 7", "--kind", "campus", "--scope", "7", "--party", "nb-edu"},
		{"--id", "nb-library", "--name", "Library", "--kind", "library", "--scope", "1", "--party", "nb-library"}} {
		if _, err := cli(append([]string{"add"}, add...)...); err != nil {
			t.Fatal(err)
		}
	}
	st, err := openStores(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := apps.ParseCard("3301000000000000/33010000000000000001")
	o := apps.NewOffice(st.apps, time.Now, strings.NewReader(""))
	day, _ := apps.ParseDate("20250303")
	if _, _, err := o.Grant(context.Background(), "nb-school-7", c, apps.Terms{ValidFrom: [4]byte{0x20, 0x24, 0x09, 0x01}, ValidTo: [4]byte{0x20, 0x25, 0x07, 0x15}, Class: 301}); err != nil {
		t.Fatal(err)
	}
	rec := apps.AppRecord{Pos: 1, App: "nb-school-7", Card: c, Terminal: citycard.TerminalID{5: 1}, TerminalSeq: 1, Action: apps.CheckIn, Date: day, Time: citycard.BCDTime{0x08, 0, 0}, Place: 1, Counter: 1}
	if err := st.apps.ApplyRecords(context.Background(), 1, []string{"nb-school-7"}, []apps.AppRecord{rec}, nil); err != nil {
		t.Fatal(err)
	}
	st.close()
	args := []string{"report", "attendance", "--app", "nb-school-7", "--date", "20250303", "--class", "301"}
	if out, err := cli(args...); err != nil || !strings.Contains(out, "1 present, 0 late, 0 absent") || !strings.Contains(strings.Join(strings.Fields(out), " "), "33010000000000000001 present 080000 1") {
		t.Fatalf("the table: %q, %v", out, err)
	}
	if out, err := cli(append(args, "--csv")...); err != nil || !strings.HasPrefix(out, "app,class,date,issuer,asn,presence") || !strings.Contains(out, ",present,080000,,1\n") {
		t.Fatalf("the CSV: %q, %v", out, err)
	}
	var v map[string]any
	if out, err := cli(append(args, "--json", "--late", "075959")...); err != nil || json.Unmarshal([]byte(out), &v) != nil || v["late"] != 1.0 || v["late_after"] != "075959" {
		t.Fatalf("the JSON, late after 07:59:59: %q, %v", out, err)
	}
	// 8 March 2025, a Saturday: not a school day, nobody absent.
	sat := []string{"report", "attendance", "--app", "nb-school-7", "--date", "20250308", "--class", "301"}
	if out, err := cli(sat...); err != nil || !strings.Contains(out, "not a school day") || !strings.Contains(strings.Join(strings.Fields(out), " "), "33010000000000000001 no_school 0") {
		t.Fatalf("a Saturday's table: %q, %v", out, err)
	}
	if out, err := cli(append(sat, "--json")...); err != nil || json.Unmarshal([]byte(out), &v) != nil || v["school_day"] != false || v["absent"] != 0.0 {
		t.Fatalf("a Saturday's JSON: %q, %v", out, err)
	}
	if out, err := cli(append(args, "--json")...); err != nil || json.Unmarshal([]byte(out), &v) != nil || v["school_day"] != true {
		t.Fatalf("a Monday's JSON: %q, %v", out, err)
	}
	for _, c := range []struct {
		args  []string
		usage bool
	}{
		{[]string{"report", "attendance", "--app", "nb-school-7", "--date", "20250303"}, true},                      // --class missing
		{[]string{"report", "attendance", "--app", "nb-school-7", "--date", "20250303", "--class", "65536"}, true},  // over the bound
		{[]string{"report", "attendance", "--app", "nb-school-7", "--date", "2025-03-03", "--class", "301"}, false}, // not YYYYMMDD
		{[]string{"report", "attendance", "--app", "nb-school-7", "--date", "20250303", "--class", "301", "--late", "8"}, false},
		{[]string{"report", "attendance", "--app", "nb-library", "--date", "20250303", "--class", "301"}, false}, // not a school
		{[]string{"report", "absence", "--app", "nb-school-7", "--date", "20250303", "--class", "301"}, true},    // no such report
	} {
		_, err := cli(c.args...)
		if err == nil || errors.Is(err, errUsage) != c.usage {
			t.Errorf("%v: %v, want an error (usage %v)", c.args, err, c.usage)
		}
	}
}
