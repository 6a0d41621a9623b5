package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

// TestAppRentals: citycard app rentals lists a bike operator's bikes out
// through the API under its token, as a table, CSV and the API's JSON;
// --out-max-minutes moves the overdue flag; the server's refusals (a
// limit out of range, another kind's application) are errors naming the
// status.
func TestAppRentals(t *testing.T) {
	ctx := context.Background()
	db, o := appTestOffice(t)
	_, bike, err := o.Add(ctx, apps.App{ID: "nb-bike", Name: "Bikes", Kind: card.AppBike, Scope: 3, Party: "nb-bike"})
	if err != nil {
		t.Fatal(err)
	}
	_, pool, err := o.Add(ctx, apps.App{ID: "nb-pool", Name: "Pool", Kind: card.AppVenue, Scope: 3, Party: "nb-sport"})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2025, 3, 3, 18, 0, 0, 0, citycard.ChinaTime)
	c, _ := apps.ParseCard("3301000000000000/33010000000000000001")
	d, tm := citycard.DateTime(now.Add(-3 * time.Hour))
	if err := db.Apps().ApplyRecords(ctx, 1, []string{"nb-bike"}, []apps.AppRecord{{Pos: 1, App: "nb-bike", Card: c, Terminal: citycard.TerminalID{5: 1},
		TerminalSeq: 1, Action: apps.Hire, Date: d, Time: tm, Place: 3001, Counter: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&api.Server{Apps: o, Now: func() time.Time { return now }}).Handler())
	defer srv.Close()
	app := appCLI(srv.URL)
	cli := func(token string, args ...string) (string, error) {
		return app(token, append([]string{"rentals"}, args...)...)
	}
	out, err := cli(bike, "--app", "nb-bike")
	if err != nil || !strings.Contains(out, "1 bikes out, 0 overdue") || !strings.Contains(out, "33010000000000000001") || !strings.Contains(out, "2025-03-03T15:00:00+08:00  3001") {
		t.Fatalf("rentals: %q, %v", out, err)
	}
	if out, err := cli(bike, "--app", "nb-bike", "--csv", "--out-max-minutes", "180"); err != nil ||
		out != "issuer,asn,hired,dock,terminal,overdue\n3301000000000000,33010000000000000001,2025-03-03T15:00:00+08:00,3001,000000000001,false\n" {
		t.Fatalf("rentals --csv, exactly the limit: %q, %v", out, err)
	}
	out, err = cli(bike, "--app", "nb-bike", "--json", "--out-max-minutes", "179")
	var rep api.OpenRentalsJSON
	if err != nil || json.Unmarshal([]byte(out), &rep) != nil || rep.Overdue != 1 || !rep.Rentals[0].Overdue || rep.OutMaxMinutes != 179 {
		t.Fatalf("rentals --json, a minute under: %q, %v", out, err)
	}
	for _, c := range []struct {
		token string
		args  []string
		want  string
	}{
		{bike, []string{"--app", "nb-bike", "--out-max-minutes", "1441"}, "422"},
		{pool, []string{"--app", "nb-pool"}, "422"},
		{pool, []string{"--app", "nb-bike"}, "403"},
	} {
		if _, err := cli(c.token, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want a %s", c.args, err, c.want)
		}
	}
}
