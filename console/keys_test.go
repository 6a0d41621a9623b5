package console

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

// bareConsole serves a console over journal j and key store ks, with
// one auditor.
func bareConsole(t *testing.T, j Journal, ks Keys) (*httptest.Server, *http.Client) {
	t.Helper()
	f := &fixture{staff: staffTable{"auditor": {secret: "s", role: RoleAuditor}}}
	f.c = &Console{Staff: f.staff, Journal: j, Terminals: terminalList{}, Keys: ks, Now: time.Now}
	h, err := f.c.Handler()
	if err != nil {
		t.Fatal(err)
	}
	f.srv = httptest.NewServer(h)
	t.Cleanup(f.srv.Close)
	cl, _ := f.loginAs(t, "auditor", "s")
	return f.srv, cl
}

// batchJournal is a listJournal with the batch drill-down the console's
// Journal needs (none: the keys and applications pages read no batch).
type batchJournal struct{ *listJournal }

func (batchJournal) BatchRecords(context.Context, citycard.TerminalID, string, func(*acquire.Journaled) error) error {
	return nil
}

// TestKeysPage: every version per issuer and type, with its KCV, its
// origin (the ceremony) and which is active; never the key itself.
func TestKeysPage(t *testing.T) {
	ks := keys.NewMemStore()
	issuer := citycard.IssuerCode{0x31, 0x50, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF}
	material := map[string][]byte{}
	for v := uint8(1); v <= 2; v++ {
		key := []byte(fmt.Sprintf("0123456789ABCDE%d", v))
		info, err := ks.Put(keys.Ref{Issuer: issuer, Type: keys.KeyPurchase, Version: v}, keys.Alg3DES, key, "components 2 of 2", time.Date(2026, 11, int(v), 9, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatal(err)
		}
		material[fmt.Sprintf("%X", info.KCV)] = key
	}
	srv, cl := bareConsole(t, batchJournal{&listJournal{}}, ks)
	code, page := get(t, cl, srv.URL+"/keys")
	if code != http.StatusOK {
		t.Fatalf("keys page: %d", code)
	}
	rows := regexp.MustCompile(`<tr><td>([^<]+)</td>.*?<td class="kcv">([0-9A-F]{6})</td><td>(active)?</td><td>([^<]*)</td>`).FindAllStringSubmatch(page, -1)
	if len(rows) != 2 {
		t.Fatalf("keys page: %d key rows, want 2: %s", len(rows), page)
	}
	for i, r := range rows {
		if _, ok := material[r[2]]; !ok {
			t.Errorf("row %s: KCV %s is no key's", r[1], r[2])
		}
		if wantActive := i == 1; (r[3] != "") != wantActive || r[4] != "components 2 of 2" {
			t.Errorf("row %s: active %q origin %q", r[1], r[3], r[4])
		}
	}
	for _, key := range material {
		for _, form := range []string{string(key), hex.EncodeToString(key), strings.ToUpper(hex.EncodeToString(key))} {
			if strings.Contains(page, form) {
				t.Errorf("the keys page shows key material %q", form)
			}
		}
	}
}

// appRecord journals an application stamp of app and action.
func (j *listJournal) addStamp(day int, app, action uint8) {
	d, tm := citycard.DateTime(time.Date(2026, 11, day, 10, 0, 0, 0, citycard.ChinaTime))
	r := record.Record{Type: citycard.TxApplication, Issuer: citycard.IssuerCode{0x31, 0x50, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF}, TerminalID: citycard.TerminalID{0x31, 0x50, 1, 0, 0, 2},
		PSAMID: citycard.PSAMID{0x31, 0x50, 9: 1}, ASN: citycard.ASN{2: 0x31, 3: 0x50, 9: 1}, Status: record.StatusComplete,
		Date: d, Time: tm, Network: uint16(app), Product: uint16(action), Line: 1, Station: 1}
	if _, err := record.DecodeBinary(r.AppendBinary(nil)); err != nil {
		panic(err) // a test's own record: a programmer's error
	}
	e := acquire.Journaled{Pos: int64(len(j.es) + 1), BatchID: "b", Class: acquire.ClassApplication}
	copy(e.Raw[:], r.AppendBinary(nil))
	j.es = append(j.es, e)
}

// TestAppsPage: the stamps per day, application and action (record's
// application layout: network the application, product the action),
// the newest day first, and a chart of the days by application.
func TestAppsPage(t *testing.T) {
	j := &listJournal{}
	for range 3 {
		j.addStamp(24, 1, 1) // campus check-ins
	}
	j.addStamp(24, 2, 4) // a library loan
	j.addStamp(25, 3, 3) // a venue admission
	j.add(t, 25, 8, 1, acquire.ClassBooked, 0)
	srv, cl := bareConsole(t, batchJournal{j}, nil)
	_, page := get(t, cl, srv.URL+"/apps")
	got := regexp.MustCompile(`<tr><td>(\d{4}-\d\d-\d\d)</td><td>(\w+)</td><td>([\w-]+)</td><td class="n">(\d+)</td></tr>`).FindAllStringSubmatch(page, -1)
	want := [][]string{{"2026-11-25", "venue", "admission", "1"}, {"2026-11-24", "campus", "check-in", "3"}, {"2026-11-24", "library", "loan", "1"}}
	if len(got) != len(want) {
		t.Fatalf("apps rows %v, want %v", got, want)
	}
	for i := range want {
		if fmt.Sprint(got[i][1:]) != fmt.Sprint(want[i]) {
			t.Errorf("row %d: %v, want %v", i, got[i][1:], want[i])
		}
	}
	if !strings.Contains(page, `<span id="total">5</span>`) {
		t.Error("the total is not the 5 stamps")
	}
	if !strings.Contains(page, `{&#34;label&#34;:&#34;campus&#34;,&#34;data&#34;:[3,0]}`) {
		t.Errorf("the chart has no campus series of 3 and 0: %s", page)
	}
}

// TestAppsRowsBound: the table keeps maxTableRows rows: at the bound
// all, one more cut and said.
func TestAppsRowsBound(t *testing.T) {
	for _, n := range []int{maxTableRows, maxTableRows + 1} {
		j := &listJournal{}
		for i := range n {
			j.addStamp(24, uint8(1+i/255), uint8(1+i%255))
		}
		srv, cl := bareConsole(t, batchJournal{j}, nil)
		_, page := get(t, cl, srv.URL+"/apps")
		rows := strings.Count(page, `<tr><td>2026-11-24</td>`)
		cut := strings.Contains(page, "Table cut at 2,000 rows")
		if rows != maxTableRows || cut != (n > maxTableRows) {
			t.Errorf("%d keys: %d rows, cut %v", n, rows, cut)
		}
	}
}

// infoList is a key store's list of n keys' metadata.
type infoList int

func (n infoList) List() ([]keys.Info, error) {
	out := make([]keys.Info, n)
	for i := range out {
		out[i] = keys.Info{Ref: keys.Ref{Issuer: citycard.IssuerCode{0x31, 0x50, byte(i >> 8), byte(i)}, Type: keys.KeyPurchase, Version: 1}, Alg: keys.Alg3DES}
	}
	return out, nil
}

// TestKeysRowsBound: the keys page keeps maxTableRows keys: at the
// bound all, one more cut and said.
func TestKeysRowsBound(t *testing.T) {
	for _, n := range []int{maxTableRows, maxTableRows + 1} {
		srv, cl := bareConsole(t, batchJournal{&listJournal{}}, infoList(n))
		_, page := get(t, cl, srv.URL+"/keys")
		rows := strings.Count(page, `<td class="kcv">`)
		cut := strings.Contains(page, "Cut at 2,000 keys")
		if rows != maxTableRows || cut != (n > maxTableRows) {
			t.Errorf("%d keys: %d rows, cut %v", n, rows, cut)
		}
	}
}
