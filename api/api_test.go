package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/terminal"
)

type tokens map[citycard.TerminalID]string

func (ts tokens) AuthenticateTerminal(_ context.Context, id citycard.TerminalID, tok string) error {
	if want, ok := ts[id]; !ok || want != tok {
		return citycard.E("test", citycard.Permission, "no")
	}
	return nil
}

// AuthenticateTerminalType implements TerminalTypeAuth: every terminal
// of tokens is a kiosk.
func (ts tokens) AuthenticateTerminalType(ctx context.Context, id citycard.TerminalID, tok string) (registry.TerminalType, error) {
	return registry.TerminalKiosk, ts.AuthenticateTerminal(ctx, id, tok)
}

type fixture struct {
	srv   *httptest.Server
	ups   []sim.Upload
	toks  tokens
	j     *acquire.MemJournal
	bl    *blacklist.List
	a     *acquire.Acquirer
	s     *Server
	staff string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	city, err := sim.NewCity(sim.Config{Seed: 11, Alg: keys.Alg3DES, Terminals: 3, Cards: 20})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{ups: city.Day(300, nil), toks: tokens{}, j: acquire.NewMemJournal(), bl: blacklist.New(nil, nil), staff: "auditor-token-0123456789"}
	reg := acquire.TerminalMap{}
	for i, tm := range city.Terminals {
		reg[tm.ID] = acquire.TerminalInfo{ID: tm.ID, PSAM: tm.PSAM, Operator: tm.Operator, OperatorCode: tm.OperatorCode, Active: true}
		f.toks[tm.ID] = fmt.Sprintf("token-%d", i)
	}
	f.a, err = acquire.Open(context.Background(), acquire.Config{Journal: f.j, Terminals: reg, Verifier: record.NewVerifier(city.Store, sim.Issuer)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.a.Close() })
	staff := &StaticStaff{}
	staff.Add(f.staff, Staff{Name: "ann", Role: RoleAuditor})
	staff.Add(f.staff+"-operator", Staff{Name: "bob", Role: RoleClerk})
	f.s = &Server{Acquirer: f.a, Terminals: f.toks, Staff: staff, Blacklist: f.bl, Rejections: f.j, Batches: f.j,
		Params: func() Parameters { return Parameters{FareTableVersion: "v7", KeyVersions: []uint8{2, 1}} }}
	f.srv = httptest.NewServer(f.s.Handler())
	t.Cleanup(f.srv.Close)
	return f
}

// with returns the fixture served by a copy of its server that mod
// changed.
func (f *fixture) with(t *testing.T, mod func(s *Server)) *fixture {
	t.Helper()
	g := *f
	s := *f.s
	mod(&s)
	g.s = &s
	g.srv = httptest.NewServer(s.Handler())
	t.Cleanup(g.srv.Close)
	return &g
}

func (f *fixture) client(i int) *Client {
	id := f.ups[i].Terminal.ID
	return &Client{BaseURL: f.srv.URL, Terminal: id, Token: f.toks[id]}
}

func (f *fixture) do(t testing.TB, method, path, token, ctype string, body []byte, hdr map[string]string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestUploadBinaryAndJSON(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.ups[0]
	half := len(u.Records) / 2
	// Binary, through the terminal's client.
	ans, err := f.client(0).Upload(ctx, terminal.UploadBatch{Terminal: u.Terminal.ID, ID: "bin", Records: u.Records[:half], AmountFen: sum(u.Records[:half])})
	if err != nil || ans.Accepted+ans.Flagged != half {
		t.Fatalf("binary upload: %+v %v", ans, err)
	}
	// JSON, as a terminal without the binary layout would send it.
	var js []json.RawMessage
	for _, raw := range u.Records[half:] {
		r, err := record.DecodeBinary(raw)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		js = append(js, b)
	}
	body, _ := json.Marshal(map[string]any{"batch_id": "json", "count": len(js), "amount_fen": sum(u.Records[half:]), "records": js})
	path := "/v1/terminals/" + u.Terminal.ID.String() + "/batches"
	code, out := f.do(t, "POST", path, f.toks[u.Terminal.ID], "application/json", body, nil)
	var got acquire.Answer
	if err := json.Unmarshal(out, &got); code != 200 || err != nil || got.Accepted+got.Flagged != len(js) {
		t.Fatalf("JSON upload: %d %s", code, out)
	}
	// The same records again under the binary form: duplicates.
	ans, err = f.client(0).Upload(ctx, terminal.UploadBatch{Terminal: u.Terminal.ID, ID: "again", Records: u.Records, AmountFen: sum(u.Records)})
	if err != nil || ans.Duplicates != len(u.Records) {
		t.Fatalf("again: %+v %v", ans, err)
	}

	// A JSON record with a bad field: the batch refused, naming it.
	bad := strings.Replace(string(js[0]), `"amount":`, `"amount":-`, 1)
	body, _ = json.Marshal(map[string]any{"batch_id": "bad", "count": 1, "amount_fen": 0, "records": []json.RawMessage{json.RawMessage(bad)}})
	code, out = f.do(t, "POST", path, f.toks[u.Terminal.ID], "application/json", body, nil)
	if code != http.StatusUnprocessableEntity || !strings.Contains(string(out), "records[0]") || !strings.Contains(string(out), "amount") {
		t.Fatalf("bad JSON record: %d %s", code, out)
	}
	// A body longer than its header says, a truncated one, a wrong sum.
	rec := u.Records[0]
	for name, c := range map[string]struct {
		body  []byte
		count int
		sum   int64
	}{
		"longer":    {append(append([]byte(nil), rec...), rec...), 1, int64(amountOf(rec))},
		"byte over": {append(append([]byte(nil), rec...), 0), 1, int64(amountOf(rec))},
		"truncated": {rec[:50], 1, int64(amountOf(rec))},
		"sum":       {rec, 1, int64(amountOf(rec)) + 1},
	} {
		code, out = f.do(t, "POST", path, f.toks[u.Terminal.ID], "application/octet-stream", c.body,
			map[string]string{HeaderBatchID: name, HeaderCount: strconv.Itoa(c.count), HeaderAmount: strconv.FormatInt(c.sum, 10)})
		if code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d %s", name, code, out)
		}
		if name == "longer" || name == "byte over" {
			if !strings.Contains(string(out), "body longer than the 1 records") {
				t.Fatalf("%s: %s, want the body named longer", name, out)
			}
		}
	}
	// Exactly the records announced: taken (a duplicate by now).
	code, out = f.do(t, "POST", path, f.toks[u.Terminal.ID], "application/octet-stream", rec,
		map[string]string{HeaderBatchID: "exact", HeaderCount: "1", HeaderAmount: strconv.FormatInt(int64(amountOf(rec)), 10)})
	if code != http.StatusOK || !strings.Contains(string(out), `"duplicates":1`) {
		t.Fatalf("a body of exactly the records announced: %d %s", code, out)
	}
	// Staff drill down from the batch (a ledger entry's source) to its
	// records.
	code, out = f.do(t, "GET", "/v1/batches/"+u.Terminal.ID.String()+"/bin", f.staff, "", nil, nil)
	var drill []batchEntryJSON
	if err := json.Unmarshal(out, &drill); code != 200 || err != nil || len(drill) != half || drill[0].Class != "booked" {
		t.Fatalf("drill-down: %d %s", code, out)
	}
	if want, _ := record.DecodeBinary(u.Records[0]); drill[0].Record != want {
		t.Fatalf("drill-down record %+v, want %+v", drill[0].Record, want)
	}
	if code, _ := f.do(t, "GET", "/v1/batches/"+u.Terminal.ID.String()+"/nope", f.staff, "", nil, nil); code != http.StatusNotFound {
		t.Fatalf("unknown batch: %d", code)
	}
	if code, _ := f.do(t, "GET", "/v1/batches/"+u.Terminal.ID.String()+"/bin", f.toks[u.Terminal.ID], "", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("a terminal drilling down: %d", code)
	}
	// The counters show what happened, for the operator's monitoring.
	code, out = f.do(t, "GET", "/metrics", "", "", nil, nil)
	for _, want := range []string{
		fmt.Sprintf("citycard_acquire_records_total{verdict=\"duplicate\"} %d", len(u.Records)+1), // and the exact body's
		"citycard_acquire_batches_total 4",
		fmt.Sprintf("citycard_acquire_cards %d", 20),
	} {
		if code != 200 || !strings.Contains(string(out), want+"\n") {
			t.Fatalf("metrics lack %q:\n%s", want, out)
		}
	}
	// A batch ID reused with other records: conflict.
	_, err = f.client(0).Upload(ctx, terminal.UploadBatch{Terminal: u.Terminal.ID, ID: "bin", Records: u.Records[:1], AmountFen: sum(u.Records[:1])})
	if !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("reused batch ID: %v", err)
	}
}

func sum(recs [][]byte) int64 {
	var s int64
	for _, r := range recs {
		s += int64(amountOf(r))
	}
	return s
}

func amountOf(r []byte) uint32 {
	fen, _ := record.AmountOf(r)
	return fen
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	u0, u1 := f.ups[0], f.ups[1]
	path := "/v1/terminals/" + u0.Terminal.ID.String() + "/batches"
	hdr := map[string]string{HeaderBatchID: "x", HeaderCount: "1", HeaderAmount: strconv.Itoa(int(amountOf(u0.Records[0])))}
	for name, c := range map[string]struct {
		tok  string
		want int
	}{
		"no":                 {"", http.StatusUnauthorized},
		"a wrong":            {"nope", http.StatusForbidden},
		"another terminal's": {f.toks[u1.Terminal.ID], http.StatusForbidden},
		"a staff":            {f.staff, http.StatusForbidden},
	} {
		code, _ := f.do(t, "POST", path, c.tok, "application/octet-stream", u0.Records[0], hdr)
		if code != c.want {
			t.Fatalf("%s token: %d, want %d", name, code, c.want)
		}
	}
	if n := len(f.j.Records()); n != 0 {
		t.Fatalf("unauthenticated uploads journaled %d records", n)
	}
	// Staff routes refuse terminals: their tokens name no member of staff.
	if code, _ := f.do(t, "GET", "/v1/rejections", f.toks[u0.Terminal.ID], "", nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("terminal reading rejections: %d", code)
	}
}

func TestBlacklistParametersRejectionsShadow(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	u := f.ups[0]
	c := f.client(0)
	cards := []blacklist.Card{{Issuer: sim.Issuer, ASN: citycard.ASN{9: 1}}, {Issuer: sim.Issuer, ASN: citycard.ASN{9: 2}}}
	for _, cd := range cards {
		f.bl.Set(ctx, cd, true, "lost", "ann")
	}
	d, err := c.Blacklist(ctx, 0)
	if err != nil || !d.Full || len(d.Cards) != 2 || d.Version != 2 {
		t.Fatalf("full blacklist: %+v %v", d, err)
	}
	f.bl.Set(ctx, cards[0], false, "found", "ann")
	d, err = c.Blacklist(ctx, 2)
	if err != nil || d.Full || len(d.Changes) != 1 || d.Changes[0].Added || d.Version != 3 {
		t.Fatalf("delta: %+v %v", d, err)
	}
	if _, err := c.Blacklist(ctx, 9); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("version ahead: %v", err)
	}
	code, out := f.do(t, "GET", "/v1/terminals/"+u.Terminal.ID.String()+"/parameters", f.toks[u.Terminal.ID], "", nil, nil)
	var p parametersJSON
	if json.Unmarshal(out, &p); code != 200 || p.FareTableVersion != "v7" || p.BlacklistVersion != 3 || !slices.Equal(p.KeyVersions, []int{2, 1}) {
		t.Fatalf("parameters: %d %s", code, out)
	}

	// A forged record: rejected, and there for staff to see.
	forged := append([]byte(nil), u.Records[1]...)
	forged[36] ^= 1
	ans, err := c.Upload(ctx, terminal.UploadBatch{Terminal: u.Terminal.ID, ID: "f", Records: [][]byte{u.Records[0], forged}, AmountFen: sum([][]byte{u.Records[0], forged})})
	if err != nil || ans.Rejected != 1 {
		t.Fatalf("forged: %+v %v", ans, err)
	}
	code, out = f.do(t, "GET", "/v1/rejections?terminal="+u.Terminal.ID.String(), f.staff, "", nil, nil)
	var rej []rejectionJSON
	if json.Unmarshal(out, &rej); code != 200 || len(rej) != 1 || rej[0].Reason != acquire.RejectRecordMAC || rej[0].Raw != fmt.Sprintf("%X", forged) {
		t.Fatalf("rejections: %d %s", code, out)
	}
	if code, _ := f.do(t, "GET", "/v1/rejections?limit=0", f.staff, "", nil, nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("limit=0: %d", code)
	}
	r0, _ := record.DecodeBinary(u.Records[0])
	code, out = f.do(t, "GET", "/v1/cards/"+r0.Issuer.String()+"/"+r0.ASN.String()+"/shadow", f.staff, "", nil, nil)
	var sh shadowJSON
	if json.Unmarshal(out, &sh); code != 200 || sh.LastOfflineCounter == nil || *sh.LastOfflineCounter != int32(r0.Counter) ||
		sh.Issuer != r0.Issuer.String() || sh.ASN != r0.ASN.String() {
		t.Fatalf("shadow: %d %s", code, out)
	}
	if code, _ := f.do(t, "GET", "/v1/cards/"+r0.Issuer.String()+"/FFFFFFFFFFFFFFFF/shadow", f.staff, "", nil, nil); code != http.StatusNotFound {
		t.Fatalf("unknown card: %d", code)
	}
}

func TestStaffBlacklist(t *testing.T) {
	f := newFixture(t)
	body := []byte(`{"issuer":"31500001FFFFFFFF","asn":"3150000012345678","listed":true,"reason":"reported lost"}`)
	// An auditor may read, not change.
	if code, _ := f.do(t, "POST", "/v1/blacklist", f.staff, "application/json", body, nil); code != http.StatusForbidden {
		t.Fatalf("auditor listing a card: %d", code)
	}
	code, out := f.do(t, "POST", "/v1/blacklist", f.staff+"-operator", "application/json", body, nil)
	if code != 200 || !strings.Contains(string(out), `"version":1`) {
		t.Fatalf("operator listing a card: %d %s", code, out)
	}
	d, _ := f.bl.Since(0)
	if len(d.Cards) != 1 || d.Cards[0].ASN.String() != "3150000012345678" {
		t.Fatalf("list %+v", d)
	}
	code, out = f.do(t, "GET", "/v1/blacklist", f.staff, "", nil, nil)
	if code != 200 || !strings.Contains(string(out), `"full":true,"cards":[{"issuer":"31500001FFFFFFFF","asn":"3150000012345678"}]`) {
		t.Fatalf("auditor reading: %d %s", code, out)
	}
	bad := []byte(`{"issuer":"3150","asn":"3150000012345678","listed":true,"reason":"x"}`)
	if code, out := f.do(t, "POST", "/v1/blacklist", f.staff+"-operator", "application/json", bad, nil); code != http.StatusUnprocessableEntity || !strings.Contains(string(out), "issuer code") {
		t.Fatalf("bad issuer: %d %s", code, out)
	}
	noReason := []byte(`{"issuer":"31500001FFFFFFFF","asn":"3150000012345678","listed":false,"reason":""}`)
	if code, _ := f.do(t, "POST", "/v1/blacklist", f.staff+"-operator", "application/json", noReason, nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("no reason: %d", code)
	}
}

// TestTerminalSyncsBlacklist: a terminal keeps its copy of the blacklist
// (which its Config.Blacklist then consults at every tap) from the back
// office's deltas.
func TestTerminalSyncsBlacklist(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c := f.client(0)
	local := blacklist.New(nil, nil)
	sync := func() {
		t.Helper()
		d, err := c.Blacklist(ctx, local.Version())
		if err != nil {
			t.Fatal(err)
		}
		if err := local.Apply(d); err != nil {
			t.Fatal(err)
		}
	}
	a := blacklist.Card{Issuer: sim.Issuer, ASN: citycard.ASN{9: 1}}
	b := blacklist.Card{Issuer: sim.Issuer, ASN: citycard.ASN{9: 2}}
	f.bl.Set(ctx, a, true, "lost", "ann")
	sync() // full list: version 0 is too old
	f.bl.Set(ctx, b, true, "fraud", "ann")
	f.bl.Set(ctx, a, false, "found", "ann")
	sync() // a delta of two changes
	if local.Version() != 3 || local.Contains(a.Issuer, a.ASN) || !local.Contains(b.Issuer, b.ASN) {
		t.Fatalf("terminal copy at %d: a %v, b %v", local.Version(), local.Contains(a.Issuer, a.ASN), local.Contains(b.Issuer, b.ASN))
	}
	// A delta with a hole is refused, and the copy stays as it was.
	if err := local.Apply(blacklist.Delta{Version: 9, Changes: []blacklist.Change{{Version: 9, Card: a, Added: true}}}); !citycard.IsKind(err, citycard.Conflict) || local.Version() != 3 {
		t.Fatalf("delta with a hole: %v, version %d", err, local.Version())
	}
}
