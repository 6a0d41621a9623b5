package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/sqlite"
)

// TestAppAPICommands: citycard app canteen-limit and periods talk to
// the API under the application's own token: the school sets a pupil's
// canteen limit (the grant answered, the limit in it), the venue sets
// and reads its periods and clears them; the server's refusals (a limit
// past 65535, overlapping periods, another application's token, the
// school's periods) are errors naming the status, and nothing changes;
// a --periods or --limit-fen that does not read, or no token, is a usage
// error before any request.
func TestAppAPICommands(t *testing.T) {
	ctx := context.Background()
	_, o := appTestOffice(t)
	_, school, err := o.Add(ctx, apps.App{ID: "nb-school-7", Name: "No. 7", Kind: card.AppCampus, Scope: 7, Party: "nb-edu"})
	if err != nil {
		t.Fatal(err)
	}
	_, pool, err := o.Add(ctx, apps.App{ID: "nb-pool", Name: "Pool", Kind: card.AppVenue, Scope: 3, Party: "nb-sport"})
	if err != nil {
		t.Fatal(err)
	}
	pupil := "3301000000000000/33010000000000000001"
	c, _ := apps.ParseCard(pupil)
	if _, _, err := o.Grant(ctx, "nb-school-7", c, apps.Terms{ValidFrom: [4]byte{0x20, 0x24, 0x09, 0x01}, ValidTo: [4]byte{0x20, 0x25, 0x07, 0x31}, Class: 3}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer((&api.Server{Apps: o}).Handler())
	defer srv.Close()
	cli := appCLI(srv.URL)
	if out, err := cli(school, "canteen-limit", "--app", "nb-school-7", "--card", pupil, "--limit-fen", "1500"); err != nil || !strings.Contains(out, `"limit": 1500`) || !strings.Contains(out, `"class": 3`) {
		t.Fatalf("canteen-limit: %q, %v", out, err)
	}
	if out, err := cli(school, "canteen-limit", "--app", "nb-school-7", "--card", pupil, "--limit-fen", "65536"); err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("a limit of 65536: %q, %v; want a 422", out, err)
	}
	if g, err := o.Entitlement(ctx, "nb-school-7", c); err != nil || g.Slot.Limit != 1500 {
		t.Fatalf("the grant after the refusal: %+v, %v; want the limit 1500 kept", g, err)
	}
	if _, err := cli(pool, "canteen-limit", "--app", "nb-school-7", "--card", pupil, "--limit-fen", "10"); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("the venue's token at the school: %v, want a 403", err)
	}
	// A token from a file, as a script keeps it.
	tokFile := filepath.Join(t.TempDir(), "pool.token")
	if err := os.WriteFile(tokFile, []byte(pool+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := cli("", "periods", "set", "--app", "nb-pool", "--token-file", tokFile, "--periods", "080000-100000=200, 200000-240000=50"); err != nil ||
		!strings.Contains(out, `"end": "240000"`) || !strings.Contains(out, `"capacity": 200`) {
		t.Fatalf("periods set: %q, %v", out, err)
	}
	if _, err := cli(pool, "periods", "set", "--app", "nb-pool", "--periods", "080000-100000=2,090000-110000=2"); err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("overlapping periods: %v, want a 422", err)
	}
	if out, err := cli(pool, "periods", "--app", "nb-pool"); err != nil || strings.Count(out, `"capacity"`) != 2 {
		t.Fatalf("periods after the refusal: %q, %v; want the 2 set", out, err)
	}
	if _, err := cli(school, "periods", "set", "--app", "nb-school-7", "--periods", "none"); err == nil || !strings.Contains(err.Error(), "422") {
		t.Fatalf("a school's periods: %v, want a 422", err)
	}
	if out, err := cli(pool, "periods", "set", "--app", "nb-pool", "--periods", "none"); err != nil || !strings.Contains(out, `"periods": []`) {
		t.Fatalf("periods set none: %q, %v", out, err)
	}
	for _, args := range [][]string{
		{"periods", "set", "--app", "nb-pool", "--periods", "080000-100000"},              // no capacity
		{"periods", "set", "--app", "nb-pool", "--periods", "0800=2"},                     // no end
		{"periods", "set", "--app", "nb-pool", "--periods", "080000-100000=x"},            // capacity not a number
		{"periods", "set", "--app", "nb-pool"},                                            // --periods missing
		{"canteen-limit", "--app", "nb-school-7", "--card", pupil, "--limit-fen", "15.5"}, // not fen
		{"canteen-limit", "--app", "nb-school-7", "--card", pupil},                        // --limit-fen missing
	} {
		if _, err := cli(pool, args...); !errors.Is(err, errUsage) {
			t.Errorf("%v: %v, want a usage error", args, err)
		}
	}
	if _, err := cli("", "periods", "--app", "nb-pool"); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), envAppToken) {
		t.Errorf("no token: %v, want a usage error naming $%s", err, envAppToken)
	}
}

// appTestOffice is an Office over a fresh SQLite store.
func appTestOffice(t *testing.T) (*sqlite.DB, *apps.Office) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "a.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, apps.NewOffice(db.Apps(), time.Now, rand.Reader)
}

// appCLI runs citycard app against the API at server under token.
func appCLI(server string) func(token string, args ...string) (string, error) {
	return func(token string, args ...string) (string, error) {
		var out, errOut bytes.Buffer
		getenv := func(k string) string {
			switch k {
			case envServer:
				return server
			case envAppToken:
				return token
			}
			return ""
		}
		err := run(context.Background(), append([]string{"app"}, args...), getenv, &out, &errOut)
		return out.String(), err
	}
}
