package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/exchange"
	"github.com/citycard/citycard/recon"
)

// reconCycle is the closed cycles the reconciliation routes' tests
// reconcile: 2026-12-01's, closed on 2026-12-02, six payments (as
// recon's own tests).
type reconCycle struct{}

func (reconCycle) Settlements(_ context.Context, from, to clearing.Day) ([]*exchange.Settlement, error) {
	d := clearing.DayOf(2026, 12, 1)
	if from > d+1 || to < d+1 {
		return nil, nil
	}
	s := &exchange.Settlement{Day: d, MessageID: exchange.MessageID(d), Closed: time.Date(2026, 12, 2, 9, 30, 0, 0, time.FixedZone("CST", 8*3600))}
	for i, p := range []struct {
		party string
		fen   int64
	}{{"nb-bus", 9909}, {"nb-metro", 18031}, {"nb-bike", 5000}, {"nb-taxi", 1200}, {"nb-park", 800}, {"nb-shop", 20000}} {
		s.Instructions = append(s.Instructions, exchange.Instruction{EndToEndID: exchange.EndToEndID(d, i+1), Party: p.party, Name: p.party, Account: "A " + p.party, AmountFen: p.fen})
	}
	return []*exchange.Settlement{s}, nil
}

// reconPayInCycle is 2026-12-01's cycle, closed on 2026-12-02, with one
// payment (nb-bus's) and four payers' pay-ins expected (as recon's
// payins.xml pays).
type reconPayInCycle struct{}

func (reconPayInCycle) Settlements(ctx context.Context, from, to clearing.Day) ([]*exchange.Settlement, error) {
	ss, err := reconCycle{}.Settlements(ctx, from, to)
	for _, s := range ss {
		s.Instructions = s.Instructions[:1]
		for i, p := range []struct {
			party string
			fen   int64
		}{{"alipay", 7311}, {"wechat-pay", 1500}, {"unionpay-qr", 4200}, {"jd-pay", 1200}} {
			s.Incoming = append(s.Incoming, exchange.PayIn{Reference: exchange.PayInReference(s.Day, i+1), Party: p.party, Name: p.party, Account: "A " + p.party, AmountFen: p.fen})
		}
	}
	return ss, err
}

// withRecon serves reconciliation over x's store, aged as of
// 2026-12-05.
func withRecon(t *testing.T, x *cmsFix) { withReconOf(t, x, reconCycle{}) }

// withReconOf serves reconciliation over x's store and the cycles of s,
// aged as of 2026-12-05.
func withReconOf(t *testing.T, x *cmsFix, s recon.Settlements) {
	t.Helper()
	r, err := recon.New(recon.Config{Account: "ICBC Ningbo 3901 0000 0000 0001"}, x.db.Recon(), s, func() time.Time {
		return time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC)
	})
	if err != nil {
		t.Fatal(err)
	}
	x.s.Recon = r
}

func reconFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../recon/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// reconShapeRequests are the reconciliation routes' requests for
// TestResponseShapes: the mismatched statement imported, match-1
// resolved.
func reconShapeRequests(t *testing.T, x *cmsFix) map[string][]shapeRequest {
	withRecon(t, x)
	return map[string][]shapeRequest{
		"POST /v1/clearing/recon/statements":            {{token: x.tokens["super"], ctype: "application/xml", body: reconFile(t, "mismatched.xml")}},
		"GET /v1/clearing/recon/findings":               {{token: x.tokens["auditor"]}, {path: "/v1/clearing/recon/findings?open=true&limit=1", token: x.tokens["auditor"]}},
		"GET /v1/clearing/recon/findings/{id}":          {{path: "/v1/clearing/recon/findings/match-1", token: x.tokens["auditor"]}},
		"POST /v1/clearing/recon/findings/{id}/resolve": {{path: "/v1/clearing/recon/findings/match-1/resolve", token: x.tokens["super"], ctype: "application/json", body: []byte(`{"decision":"corrected","note":"1 fen short"}`)}},
	}
}

// reconCall makes one request and decodes its JSON answer.
func reconCall(t *testing.T, x *cmsFix, method, path, token, ctype string, body []byte) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, x.srv.URL+path, strings.NewReader(string(body)))
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode, v
}

// reconState is what the store holds and the audit log's length: what
// a refused request must leave as it was.
func reconState(t *testing.T, x *cmsFix) [5]int {
	t.Helper()
	s, err := x.db.Recon().Snapshot(context.Background(), recon.SnapshotMax)
	if err != nil {
		t.Fatal(err)
	}
	n, err := cms.VerifyAudit(context.Background(), x.db.CMS())
	if err != nil {
		t.Fatal(err)
	}
	return [5]int{len(s.Instructions), len(s.Movements), len(s.Matches), len(s.Resolutions), int(n)}
}

// TestReconRoutes: a supervisor imports the bank's statement and
// resolves what is open, an auditor reads, a clerk neither; every bad
// request is a clear 4xx and changes nothing.
func TestReconRoutes(t *testing.T) {
	x := withCMS(t, newFixture(t))
	withRecon(t, x)
	super, auditor, clerk := x.tokens["super"], x.tokens["auditor"], x.tokens["clerk"]
	const base = "/v1/clearing/recon"
	code, v := reconCall(t, x, "POST", base+"/statements", super, "text/csv; charset=utf-8", reconFile(t, "mismatched.csv"))
	if code != http.StatusCreated || v["statement"] != "STMT-20261203" || v["matched"] != 3.0 || v["mismatched"] != 1.0 || v["replayed"] != false {
		t.Fatalf("import: %d %v", code, v)
	}
	if code, v := reconCall(t, x, "POST", base+"/statements", super, "text/csv", reconFile(t, "mismatched.csv")); code != http.StatusOK || v["replayed"] != true {
		t.Fatalf("import again: %d %v", code, v)
	}
	code, v = reconCall(t, x, "GET", base+"/findings?open=true", auditor, "", nil)
	fs, _ := v["findings"].([]any)
	if code != http.StatusOK || len(fs) != 3 || v["next_after"] != nil {
		t.Fatalf("open findings: %d %v", code, v)
	}
	var ids []string
	for _, f := range fs {
		ids = append(ids, f.(map[string]any)["id"].(string))
	}
	if strings.Join(ids, " ") != "CCLR-20261201-00002 match-1 bank-6" {
		t.Fatalf("open: %q", ids)
	}
	// Pages: limit 1, then after the first.
	if code, v := reconCall(t, x, "GET", base+"/findings?open=true&limit=1", auditor, "", nil); code != http.StatusOK || v["next_after"] != "CCLR-20261201-00002" || len(v["findings"].([]any)) != 1 {
		t.Errorf("a page of 1: %d %v", code, v)
	}
	if code, v := reconCall(t, x, "GET", base+"/findings?open=true&after=match-1", auditor, "", nil); code != http.StatusOK || len(v["findings"].([]any)) != 1 || v["findings"].([]any)[0].(map[string]any)["id"] != "bank-6" {
		t.Errorf("after match-1: %d %v", code, v)
	}
	if code, v := reconCall(t, x, "GET", base+"/findings/match-1", auditor, "", nil); code != http.StatusOK || v["instructed_fen"] != 9909.0 || v["bank_fen"] != 9908.0 || v["difference_fen"] != -1.0 || v["open"] != true || v["direction"] != "DBIT" {
		t.Errorf("match-1: %d %v", code, v)
	}

	before := reconState(t, x)
	big := make([]byte, recon.FileBytesMax+1)
	x1 := reconFile(t, "exact.xml")
	for _, bad := range []struct {
		method, path, token, ctype, body string
		code                             int
		says                             string
	}{
		{"POST", base + "/statements", super, "application/xml", string(x1[:len(x1)/2]), 422, "statement: line 28: Document/BkToCstmrStmt/Stmt[1]/Ntry[1]: the file ends inside the element: truncated"},
		{"POST", base + "/statements", super, "application/pdf", string(x1), 422, "want application/xml (camt.053) or text/csv"},
		{"POST", base + "/statements", super, "text/csv; charset=latin1", string(reconFile(t, "exact.csv")), 422, "want application/xml"},
		{"POST", base + "/statements", super, "text/csv", string(big), 422, "body too large"},
		{"POST", base + "/statements", super, "text/csv", strings.Replace(string(reconFile(t, "exact.csv")), "99.09", "99.0.9", 1), 422, "line 2: amount"},
		{"POST", base + "/statements", clerk, "application/xml", string(x1), 403, ""},
		{"POST", base + "/findings/match-1/resolve", clerk, "application/json", `{"decision":"corrected","note":"x"}`, 403, ""},
		{"POST", base + "/findings/match-1/resolve", auditor, "application/json", `{"decision":"corrected","note":"x"}`, 403, ""},
		{"POST", base + "/findings/match-1/resolve", super, "application/json", `{"decision":"forgiven","note":"x"}`, 422, "decision \"forgiven\""},
		{"POST", base + "/findings/match-1/resolve", super, "application/json", `{"decision":"corrected"}`, 422, "\"note\" missing"},
		{"POST", base + "/findings/match-1/resolve", super, "application/json", `{"decision":"corrected","note":"x","by":"someone else"}`, 422, "by"},
		{"POST", base + "/findings/match-1/resolve", super, "application/json", `{"decision":"corrected","note":""}`, 422, "note \"\": missing"},
		{"POST", base + "/findings/match-1/resolve", super, "application/json", `{"decision":"corrected","note":"` + strings.Repeat("n", recon.NoteLenMax+1) + `"}`, 422, "at most 500"},
		{"POST", base + "/findings/match-1/resolve", super, "text/plain", `{"decision":"corrected","note":"x"}`, 422, "Content-Type"},
		{"POST", base + "/findings/match-1/resolve", super, "application/json", `{"decision":"not_ours","note":"x"}`, 422, "not_ours is a decision on a movement"},
		{"POST", base + "/findings/match-2/resolve", super, "application/json", `{"decision":"accepted","note":"x"}`, 409, "not open: matched"},
		{"POST", base + "/findings/match-99/resolve", super, "application/json", `{"decision":"accepted","note":"x"}`, 404, "no finding"},
		{"GET", base + "/findings?limit=0", auditor, "", "", 422, "limit=\"0\": want 1 to 500"},
		{"GET", base + "/findings?limit=501", auditor, "", "", 422, "limit=\"501\""},
		{"GET", base + "/findings?open=maybe", auditor, "", "", 422, "open=\"maybe\""},
		{"GET", base + "/findings?state=open", auditor, "", "", 422, "query \"state\""},
		{"GET", base + "/findings?after=match-99", auditor, "", "", 404, "after=\"match-99\""},
		{"GET", base + "/findings/nothing-here", auditor, "", "", 404, "no finding"},
	} {
		code, v := reconCall(t, x, bad.method, bad.path, bad.token, bad.ctype, []byte(bad.body))
		if msg, _ := v["error"].(string); code != bad.code || !strings.Contains(msg, bad.says) {
			t.Errorf("%s %s %.40q: %d %v; want %d saying %q", bad.method, bad.path, bad.body, code, v, bad.code, bad.says)
		}
	}
	if after := reconState(t, x); after != before {
		t.Fatalf("refused requests changed the store: %v, was %v", after, before)
	}
	// Limits at their bounds: a page of 500, a note of 500 characters.
	if code, _ := reconCall(t, x, "GET", base+"/findings?limit=500", auditor, "", nil); code != http.StatusOK {
		t.Errorf("limit=500: %d", code)
	}
	code, v = reconCall(t, x, "POST", base+"/findings/match-1/resolve", super, "application/json", []byte(`{"decision":"corrected","note":"`+strings.Repeat("备", recon.NoteLenMax)+`"}`))
	if code != http.StatusOK || v["open"] != false || v["resolved_by"] != "super" || v["service_point"] != "nb-counter-01" || v["decision"] != "corrected" {
		t.Fatalf("resolve: %d %v", code, v)
	}
	if code, _ := reconCall(t, x, "POST", base+"/findings/match-1/resolve", super, "application/json", []byte(`{"decision":"accepted","note":"again"}`)); code != http.StatusConflict {
		t.Errorf("resolving twice: %d", code)
	}
	if got := reconState(t, x); got[3] != 1 || got[4] != before[4]+1 {
		t.Errorf("after one resolution: %v, was %v", got, before)
	}
}

// TestReconPayInRoutes: the findings list the parties' pay-ins with
// their direction: one matched, one not made (open, aged, its reference
// its ID) that a supervisor writes off; a credit naming a payment is a
// movement nothing matched.
func TestReconPayInRoutes(t *testing.T) {
	x := withCMS(t, newFixture(t))
	withReconOf(t, x, reconPayInCycle{})
	super, auditor := x.tokens["super"], x.tokens["auditor"]
	const base = "/v1/clearing/recon"
	if code, v := reconCall(t, x, "POST", base+"/statements", super, "application/xml", reconFile(t, "payins.xml")); code != http.StatusCreated || v["matched"] != 2.0 {
		t.Fatalf("import: %d %v", code, v)
	}
	code, v := reconCall(t, x, "GET", base+"/findings", auditor, "", nil)
	if code != http.StatusOK {
		t.Fatalf("findings: %d %v", code, v)
	}
	dirs := map[string]string{}
	for _, f := range v["findings"].([]any) {
		f := f.(map[string]any)
		dirs[f["id"].(string)+" "+f["state"].(string)] = f["direction"].(string)
	}
	for id, dir := range map[string]string{"match-1 matched": "CRDT", "CCLR-20261201-00001 unmatched_instruction": "DBIT", "CCLR-20261201-R00004 unmatched_instruction": "CRDT",
		"bank-6 unmatched_movement": "CRDT", "bank-7 unmatched_movement": "DBIT"} {
		if dirs[id] != dir {
			t.Errorf("%s: direction %q, want %q (all: %v)", id, dirs[id], dir, dirs)
		}
	}
	const unpaid = base + "/findings/CCLR-20261201-R00004"
	if code, v := reconCall(t, x, "GET", unpaid, auditor, "", nil); code != http.StatusOK || v["instructed_fen"] != -1200.0 || v["bank_fen"] != 0.0 ||
		v["difference_fen"] != 1200.0 || v["age_days"] != 3.0 || v["open"] != true || v["parties"].([]any)[0] != "jd-pay" {
		t.Fatalf("the pay-in not made: %d %v", code, v)
	}
	before := reconState(t, x)
	if code, v := reconCall(t, x, "POST", unpaid+"/resolve", super, "application/json", []byte(`{"decision":"not_ours","note":"x"}`)); code != http.StatusUnprocessableEntity {
		t.Errorf("not_ours of a pay-in expected: %d %v", code, v)
	}
	if after := reconState(t, x); after != before {
		t.Errorf("a refused resolution changed %v to %v", before, after)
	}
	if code, v := reconCall(t, x, "POST", unpaid+"/resolve", super, "application/json", []byte(`{"decision":"written_off","note":"jd-pay will not pay"}`)); code != http.StatusOK ||
		v["open"] != false || v["decision"] != "written_off" || v["direction"] != "CRDT" {
		t.Errorf("write off: %d %v", code, v)
	}
}
