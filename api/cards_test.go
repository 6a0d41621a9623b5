package api

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/sqlite"
)

// The test cardholder: a resident ID number with GB 11643's check
// character (storetest's).
const (
	testIDNumber = "330203199001011236"
	testBorn     = "1990-01-01"
	testParty    = "nb-card"
	staffPass    = "correct horse battery"
)

// cmsFix is card management and stored staff over a fresh SQLite file,
// attached to a fixture's server.
type cmsFix struct {
	*fixture
	db     *sqlite.DB
	m      *cms.Manager
	st     *cms.Staffing
	self   *cms.SelfService
	tokens map[string]string // staff name -> session token
	mu     sync.Mutex
	at     time.Time
	log    lockedBuffer // the server's log
}

// lockedBuffer is a bytes.Buffer the server's goroutines write safely.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// firstAuth tries each StaffAuth in turn, the next on Unauthenticated.
type firstAuth []StaffAuth

func (fa firstAuth) AuthenticateStaff(ctx context.Context, tok string) (Staff, error) {
	var err error
	for _, a := range fa {
		var st Staff
		if st, err = a.AuthenticateStaff(ctx, tok); !citycard.IsKind(err, citycard.Unauthenticated) {
			return st, err
		}
	}
	return Staff{}, err
}

// withCMS attaches card management and the staff clerk, clerk2, super,
// super2, auditor and admin (each logged in) to f's server; f's static
// tokens keep working.
func withCMS(t testing.TB, f *fixture) *cmsFix {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "citycard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	x := &cmsFix{fixture: f, db: db, tokens: map[string]string{}, at: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)}
	now := func() time.Time {
		x.mu.Lock()
		defer x.mu.Unlock()
		x.at = x.at.Add(time.Second)
		return x.at
	}
	p, err := cms.NewProtector(bytes.Repeat([]byte{7}, cms.DataKeyLen), nil)
	if err != nil {
		t.Fatal(err)
	}
	x.m = cms.NewManager(db.CMS(), cms.DefaultProducts(), p, now).WithBlacklist(f.s.Blacklist)
	x.st = cms.NewStaffing(db.Staff(), now, cms.StaffOptions{BcryptCost: bcrypt.MinCost})
	for name, role := range map[string]cms.Role{"clerk": cms.RoleClerk, "clerk2": cms.RoleClerk, "super": cms.RoleSupervisor,
		"super2": cms.RoleSupervisor, "auditor": cms.RoleAuditor, "admin": cms.RoleAdmin} {
		if _, err := x.st.Add(ctx, cms.Actor{Who: "bootstrap", ServicePoint: "cli"}, cms.StaffMember{Name: name, Role: role, ServicePoint: "nb-counter-01", PointType: cms.OwnCounter}, staffPass); err != nil {
			t.Fatal(err)
		}
		s, err := x.st.Login(ctx, name, staffPass)
		if err != nil {
			t.Fatal(err)
		}
		x.tokens[name] = s.Token
	}
	x.self = cms.NewSelfService(x.m, db.HolderAccounts(), now, cms.StaffOptions{BcryptCost: bcrypt.MinCost})
	f.s.Cards, f.s.Staffing, f.s.SelfService = x.m, x.st, x.self
	f.s.Logger = slog.New(slog.NewTextHandler(&x.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.s.Staff = firstAuth{StoredStaff{x.st}, f.s.Staff}
	return x
}

var testIssuer = sim.Issuer

func asnOf(t testing.TB, s string) citycard.ASN {
	t.Helper()
	a, err := citycard.ParseASN(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// holder registers the test cardholder (once) and returns its ID.
func (x *cmsFix) holder(t testing.TB) int64 {
	t.Helper()
	ctx := context.Background()
	if h, err := x.m.FindHolder(ctx, cms.ResidentID, testIDNumber); err == nil {
		return h.ID
	}
	born, _ := cms.ParseDate(testBorn)
	h, err := x.m.Register(ctx, cms.Actor{Who: "clerk", ServicePoint: "nb-counter-01"}, cms.Cardholder{Name: "张三丰", DocType: cms.ResidentID, DocNumber: testIDNumber, DateOfBirth: born, Phone: "13812345678"})
	if err != nil {
		t.Fatal(err)
	}
	return h.ID
}

// issued applies for, personalizes and sells a citizen card with
// loadFen on it.
func (x *cmsFix) issued(t testing.TB, asn string, loadFen int64) citycard.ASN {
	t.Helper()
	return x.sold(t, asn, "citizen", x.holder(t), loadFen)
}

// sold applies for, personalizes, sells and activates a card of product
// for holder with loadFen on it.
func (x *cmsFix) sold(t testing.TB, asn, product string, holder, loadFen int64) citycard.ASN {
	t.Helper()
	ctx := context.Background()
	by := cms.Actor{Who: "clerk", ServicePoint: "nb-counter-01"}
	a := asnOf(t, asn)
	if _, err := x.m.Apply(ctx, by, testIssuer, a, product, holder); err != nil {
		t.Fatal(err)
	}
	if _, err := x.m.Move(ctx, by, testIssuer, a, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := x.m.Sell(ctx, by, "sell-"+asn, testIssuer, a, cms.Channel{Type: cms.Cash, Party: testParty}, loadFen); err != nil {
		t.Fatal(err)
	}
	if _, err := x.m.Move(ctx, by, testIssuer, a, cms.Activate); err != nil {
		t.Fatal(err)
	}
	return a
}

// lost is issued, then reported lost.
func (x *cmsFix) lost(t testing.TB, asn string) citycard.ASN {
	t.Helper()
	a := x.issued(t, asn, 1000)
	if _, err := x.m.Move(context.Background(), cms.Actor{Who: "clerk", ServicePoint: "nb-counter-01"}, testIssuer, a, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	return a
}

// auditLen is the number of audit records: what a refused request must
// leave as it was.
func (x *cmsFix) auditLen(t testing.TB) int64 {
	t.Helper()
	n, err := cms.VerifyAudit(context.Background(), x.db.CMS())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func (x *cmsFix) card(t testing.TB, a citycard.ASN) cms.Card {
	t.Helper()
	c, err := x.m.Card(context.Background(), testIssuer, a)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// call sends a JSON body as name and decodes the answer.
func (x *cmsFix) call(t testing.TB, method, path, name, body string) (int, map[string]any) {
	t.Helper()
	ctype := ""
	if body != "" {
		ctype = "application/json"
	}
	code, b := x.do(t, method, path, x.tokens[name], ctype, []byte(body), nil)
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%s %s: %d %s: %v", method, path, code, b, err)
	}
	return code, v
}

func cardURL(a citycard.ASN, action string) string {
	u := "/v1/cards/" + testIssuer.String() + "/" + a.String()
	if action != "" {
		u += "/" + action
	}
	return u
}

func cash(key string) string {
	return `"key":"` + key + `","channel":"cash","channel_party":"` + testParty + `","channel_reference":""`
}

func refundBody(key string, approval int64) string {
	b, _ := json.Marshal(map[string]any{"key": key, "payee": "cash", "payee_party": testParty, "payee_reference": "", "approval_id": approval})
	return string(b)
}

// TestCardLifecycle runs a card's life over the API as a counter does:
// a cardholder, an application, the sale, a loss report (the card on the
// blacklist), its cancellation (off it), a second report, the
// replacement, and the refund of another card.
func TestCardLifecycle(t *testing.T) {
	x := withCMS(t, newFixture(t))
	code, h := x.call(t, "POST", "/v1/cardholders", "clerk", `{"name":"张三丰","doc_type":"resident_id","doc_number":"`+testIDNumber+`","date_of_birth":"`+testBorn+`","phone":"13812345678","school":"","studies_end":""}`)
	if code != http.StatusCreated || h["doc_number"] != "3302**********1236" || h["phone"] != "138****5678" || h["name"] == "张三丰" {
		t.Fatalf("register: %d %v", code, h)
	}
	if code, got := x.call(t, "GET", "/v1/cardholders/1", "auditor", ""); code != 200 || got["doc_number"] != "3302**********1236" {
		t.Fatalf("show holder: %d %v", code, got)
	}
	a := asnOf(t, "31500000000000000101")
	code, c := x.call(t, "POST", "/v1/cards", "clerk", `{"issuer":"`+testIssuer.String()+`","asn":"`+a.String()+`","product":"citizen","holder_id":1}`)
	if code != http.StatusCreated || c["state"] != "applied" || c["holder_id"] != 1.0 {
		t.Fatalf("apply: %d %v", code, c)
	}
	code, ans := x.call(t, "POST", cardURL(a, "issue"), "clerk", `{`+cash("sell-1")+`,"load_fen":5000}`)
	if code != 200 || ans["card"].(map[string]any)["state"] != "issued" || ans["replayed"] != false {
		t.Fatalf("issue: %d %v", code, ans)
	}
	if code, ans := x.call(t, "POST", cardURL(a, "issue"), "clerk", `{`+cash("sell-1")+`,"load_fen":5000}`); code != 200 || ans["replayed"] != true {
		t.Fatalf("issue again, same key: %d %v", code, ans)
	}
	if code, got := x.call(t, "GET", cardURL(a, ""), "auditor", ""); code != 200 || got["book_balance_fen"] != 5000.0 {
		t.Fatalf("show: %d %v", code, got)
	}
	listed := func() bool {
		d, err := x.bl.Page(0, nil, blacklist.MaxDeltaItems)
		if err != nil {
			t.Fatal(err)
		}
		for _, bc := range d.Cards {
			if bc.ASN == a {
				return true
			}
		}
		return false
	}
	if code, got := x.call(t, "POST", cardURL(a, "loss"), "clerk", ""); code != 200 || got["state"] != "lost" || got["lost_at"] == nil || !listed() {
		t.Fatalf("loss: %d %v, listed %v", code, got, listed())
	}
	if code, got := x.call(t, "POST", cardURL(a, "unloss"), "clerk", ""); code != 200 || got["state"] != "issued" || listed() {
		t.Fatalf("unloss: %d %v, listed %v", code, got, listed())
	}
	if code, got := x.call(t, "POST", cardURL(a, "activate"), "clerk", ""); code != 200 || got["state"] != "active" {
		t.Fatalf("activate: %d %v, listed %v", code, got, listed())
	}
	x.call(t, "POST", cardURL(a, "loss"), "clerk", "")
	nu := "31500000000000000102"
	code, ans = x.call(t, "POST", cardURL(a, "replace"), "clerk", `{`+cash("replace-1")+`,"new_asn":"`+nu+`"}`)
	if code != 200 || ans["card"].(map[string]any)["state"] != "replaced" || ans["new_card"].(map[string]any)["asn"] != nu || ans["new_card"].(map[string]any)["replaces"] != a.String() {
		t.Fatalf("replace: %d %v", code, ans)
	}
	b := x.issued(t, "31500000000000000103", 2000)
	code, ans = x.call(t, "POST", cardURL(b, "refund"), "clerk", refundBody("refund-1", 0))
	q, _ := ans["quote"].(map[string]any)
	if q == nil {
		t.Fatalf("refund: %d %v", code, ans)
	}
	if code != 200 || ans["card"].(map[string]any)["state"] != "closed" || q["balance_fen"] != 2000.0 || q["deposit_fen"] != 1000.0 || q["paid_fen"].(float64)+q["fee_fen"].(float64) != 3000 {
		t.Fatalf("refund: %d %v", code, ans)
	}
	if _, err := cms.VerifyAudit(context.Background(), x.db.CMS()); err != nil {
		t.Fatal(err)
	}
	// The log says what was done, never to whom in clear.
	log := x.log.String()
	if !strings.Contains(log, "cardholder registered") {
		t.Fatalf("the log lacks the registration:\n%s", log)
	}
	for _, pii := range []string{testIDNumber, "13812345678", "张三丰", staffPass} {
		if strings.Contains(log, pii) {
			t.Errorf("the log holds %q", pii)
		}
	}
}

// TestRefundApproval follows issue 9: a refund over the limit needs a
// supervisor's approval; a clerk cannot approve; a supervisor cannot
// approve their own request; the approval is for that request only.
func TestRefundApproval(t *testing.T) {
	x := withCMS(t, newFixture(t))
	// A refund of 40,000 fen plus the 1,000 fen deposit, less a fee at
	// most: over a 30,000-fen limit; at the limit it needs none.
	x.s.RefundApprovalFen = 30000
	a := x.issued(t, "31500000000000000201", 40000)
	before := x.card(t, a)
	code, ans := x.call(t, "POST", cardURL(a, "refund"), "clerk", refundBody("refund-a", 0))
	if code != http.StatusAccepted || ans["approval"] == nil {
		t.Fatalf("over the limit: %d %v", code, ans)
	}
	if got := x.card(t, a); got.Version != before.Version || got.State != before.State {
		t.Fatalf("a refund waiting for approval moved the card: %v", got.State)
	}
	id := int64(ans["approval"].(map[string]any)["id"].(float64))
	path := "/v1/approvals/" + jsonInt(id)
	if code, _ := x.call(t, "POST", path+"/approve", "clerk2", ""); code != http.StatusForbidden {
		t.Errorf("a clerk approves: %d, want 403", code)
	}
	if code, _ := x.call(t, "POST", cardURL(a, "refund"), "clerk", refundBody("refund-a", id)); code != http.StatusForbidden {
		t.Errorf("refund on a pending approval: %d, want 403", code)
	}
	if code, got := x.call(t, "POST", path+"/approve", "super", ""); code != 200 || got["state"] != "approved" || got["decided_by"] != "super" {
		t.Fatalf("a supervisor approves: %d %v", code, got)
	}
	// Another request (another key), another clerk: the approval is not theirs.
	if code, _ := x.call(t, "POST", cardURL(a, "refund"), "clerk", refundBody("refund-b", id)); code != http.StatusForbidden {
		t.Errorf("another request on the approval: %d, want 403", code)
	}
	if code, _ := x.call(t, "POST", cardURL(a, "refund"), "clerk2", refundBody("refund-a", id)); code != http.StatusForbidden {
		t.Errorf("another clerk on the approval: %d, want 403", code)
	}
	if code, got := x.call(t, "POST", cardURL(a, "refund"), "clerk", refundBody("refund-a", id)); code != 200 || got["card"].(map[string]any)["state"] != "closed" {
		t.Fatalf("the approved refund: %d %v", code, got)
	}

	// A supervisor's own request: they cannot approve it, another can.
	b := x.issued(t, "31500000000000000202", 40000)
	_, ans = x.call(t, "POST", cardURL(b, "refund"), "super", refundBody("refund-c", 0))
	id = int64(ans["approval"].(map[string]any)["id"].(float64))
	path = "/v1/approvals/" + jsonInt(id)
	if code, _ := x.call(t, "POST", path+"/approve", "super", ""); code != http.StatusForbidden {
		t.Errorf("a supervisor approves their own request: %d, want 403", code)
	}
	if code, got := x.call(t, "POST", path+"/reject", "super2", ""); code != 200 || got["state"] != "rejected" {
		t.Fatalf("another supervisor rejects: %d %v", code, got)
	}
	if code, _ := x.call(t, "POST", cardURL(b, "refund"), "super", refundBody("refund-c", id)); code != http.StatusForbidden {
		t.Errorf("refund on a rejected approval: %d, want 403", code)
	}
	if code, _ := x.call(t, "POST", path+"/approve", "super2", ""); code != http.StatusConflict {
		t.Errorf("decided twice: %d, want 409", code)
	}

	// At the limit exactly, no approval: 29,000 + 1,000 deposit, no fee
	// makes it 30,000 at most.
	c := x.issued(t, "31500000000000000203", 29000)
	if code, got := x.call(t, "POST", cardURL(c, "refund"), "clerk", refundBody("refund-d", 0)); code != 200 || got["approval"] != nil {
		t.Fatalf("at the limit: %d %v", code, got)
	}
}

func jsonInt(n int64) string { b, _ := json.Marshal(n); return string(b) }

// TestAuditorCannotWrite: an auditor's token is refused on every write
// route of card management and staff, and nothing changes.
func TestAuditorCannotWrite(t *testing.T) {
	x := withCMS(t, newFixture(t))
	a := x.issued(t, "31500000000000000301", 1000)
	n := x.auditLen(t)
	for _, rt := range declaredRoutes(t) {
		if rt.guard != "staff" || !strings.HasPrefix(rt.pattern, "POST ") || rt.pattern == "POST /v1/staff/logout" {
			continue
		}
		_, path := routePath(t, rt.pattern, x.ups[0].Terminal.ID)
		path = strings.Replace(path, citycard.ASN{9: 1}.String(), a.String(), 1)
		if code, _ := x.call(t, "POST", path, "auditor", "{}"); code != http.StatusForbidden {
			t.Errorf("%s as auditor: %d, want 403", rt.pattern, code)
		}
	}
	if got := x.auditLen(t); got != n {
		t.Errorf("audit log %d records, was %d", got, n)
	}
}

// selfToken registers the test cardholder for self service with card
// and logs them in, returning the session token.
func (x *cmsFix) selfToken(t *testing.T, card citycard.ASN) string {
	t.Helper()
	ctx := context.Background()
	if _, err := x.self.Register(ctx, testIssuer, card, cms.ResidentID, testIDNumber, staffPass); err != nil {
		t.Fatal(err)
	}
	tok, _, _, err := x.self.Login(ctx, cms.ResidentID, testIDNumber, staffPass)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// cmsShapeRequests makes the state and the requests TestResponseShapes
// sends to card management's and staff's routes, in routes.go's order.
func cmsShapeRequests(t *testing.T, x *cmsFix) map[string][]shapeRequest {
	t.Helper()
	ctx := context.Background()
	clerk, err := x.st.Authenticate(ctx, x.tokens["clerk"])
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := x.st.RequestApproval(ctx, &clerk, "refund", "card:X", "{}", 60000); err != nil {
			t.Fatal(err)
		}
	}
	spare, err := x.st.Login(ctx, "clerk2", staffPass)
	if err != nil {
		t.Fatal(err)
	}
	x.holder(t)
	applied := asnOf(t, "31500000000000000401")
	lost := x.lost(t, "31500000000000000402")
	refund := x.issued(t, "31500000000000000404", 500)
	own := x.issued(t, "31500000000000000405", 500)
	selfTok := x.selfToken(t, own)
	// A second cardholder with a card, to register over the API.
	born, _ := cms.ParseDate("1980-03-05")
	other, err := x.m.Register(ctx, cms.Actor{Who: "clerk", ServicePoint: "p"}, cms.Cardholder{Name: "王五", DocType: cms.ResidentID, DocNumber: "330205198003050026", DateOfBirth: born})
	if err != nil {
		t.Fatal(err)
	}
	otherCard := asnOf(t, "31500000000000000406")
	if _, err := x.m.Apply(ctx, cms.Actor{Who: "clerk", ServicePoint: "p"}, testIssuer, otherCard, "citizen", other.ID); err != nil {
		t.Fatal(err)
	}
	cooled := x.replacedCooled(t, "31500000000000000407", "31500000000000000408")
	adjusted := x.issued(t, "31500000000000000411", 500)
	senior := x.concession(t, "31500000000000000409", "senior", seniorIDNumber, seniorBorn, "", "")
	due := x.pastExpiry(t, "31500000000000000410")
	j := func(s string) []byte { return []byte(s) }
	const ct = "application/json"
	return map[string][]shapeRequest{
		"POST /v1/staff/login":            {{ctype: ct, body: j(`{"name":"clerk","password":"` + staffPass + `"}`)}},
		"POST /v1/staff/logout":           {{token: spare.Token}},
		"GET /v1/staff":                   {{token: x.tokens["admin"]}},
		"POST /v1/staff":                  {{token: x.tokens["admin"], ctype: ct, body: j(`{"name":"dee","role":"clerk","service_point":"nb-agent-7","point_type":"agent","password":"` + staffPass + `"}`)}},
		"POST /v1/staff/{name}/disable":   {{path: "/v1/staff/dee/disable", token: x.tokens["admin"]}},
		"POST /v1/staff/{name}/enable":    {{path: "/v1/staff/dee/enable", token: x.tokens["admin"]}},
		"GET /v1/approvals/{id}":          {{path: "/v1/approvals/1", token: x.tokens["auditor"]}},
		"POST /v1/approvals/{id}/approve": {{path: "/v1/approvals/1/approve", token: x.tokens["super"]}},
		"POST /v1/approvals/{id}/reject":  {{path: "/v1/approvals/2/reject", token: x.tokens["super"]}},
		"POST /v1/cardholders": {{token: x.tokens["clerk"], ctype: ct,
			body: j(`{"name":"李四","doc_type":"resident_id","doc_number":"330205195612020048","date_of_birth":"1956-12-02","phone":"","school":"","studies_end":""}`)}},
		"GET /v1/cardholders/{id}": {{path: "/v1/cardholders/1", token: x.tokens["auditor"]}},
		"POST /v1/cards": {{token: x.tokens["clerk"], ctype: ct,
			body: j(`{"issuer":"` + testIssuer.String() + `","asn":"` + applied.String() + `","product":"citizen","holder_id":1}`)}},
		"GET /v1/cards/{issuer}/{asn}":           {{path: cardURL(applied, ""), token: x.tokens["auditor"]}},
		"POST /v1/cards/{issuer}/{asn}/issue":    {{path: cardURL(applied, "issue"), token: x.tokens["clerk"], ctype: ct, body: j(`{` + cash("shape-sell") + `,"load_fen":100}`)}},
		"POST /v1/cards/{issuer}/{asn}/activate": {{path: cardURL(applied, "activate"), token: x.tokens["clerk"]}},
		"POST /v1/cards/{issuer}/{asn}/loss":     {{path: cardURL(applied, "loss"), token: x.tokens["clerk"]}},
		"POST /v1/cards/{issuer}/{asn}/unloss":   {{path: cardURL(applied, "unloss"), token: x.tokens["clerk"]}},
		"POST /v1/cards/{issuer}/{asn}/damaged":  {{path: cardURL(applied, "damaged"), token: x.tokens["clerk"]}},
		"POST /v1/cards/{issuer}/{asn}/replace": {{path: cardURL(lost, "replace"), token: x.tokens["clerk"], ctype: ct,
			body: j(`{` + cash("shape-replace") + `,"new_asn":"31500000000000000403"}`)}},
		"POST /v1/cards/{issuer}/{asn}/refund":       {{path: cardURL(refund, "refund"), token: x.tokens["clerk"], ctype: ct, body: j(refundBody("shape-refund", 0))}},
		"GET /v1/cards/dormant":                      {{path: "/v1/cards/dormant?limit=10", token: x.tokens["auditor"]}},
		"POST /v1/cards/{issuer}/{asn}/adjustments":  {{path: cardURL(adjusted, "adjustments"), token: x.tokens["clerk"], ctype: ct, body: j(adjustBody("shape-adjust", "credit", 300, 0))}},
		"GET /v1/cards/{issuer}/{asn}/adjustments":   {{path: cardURL(adjusted, "adjustments"), token: x.tokens["auditor"]}},
		"POST /v1/cards/{issuer}/{asn}/move-balance": {{path: cardURL(cooled, "move-balance"), token: x.tokens["clerk"], ctype: ct, body: j(`{"key":"shape-move"}`)}},
		"POST /v1/cards/{issuer}/{asn}/review":       {{path: cardURL(senior, "review"), token: x.tokens["clerk"]}},
		"POST /v1/cards/{issuer}/{asn}/expire":       {{path: cardURL(due, "expire"), token: x.tokens["clerk"]}},
		"POST /v1/cards/{issuer}/{asn}/renew":        {{path: cardURL(due, "renew"), token: x.tokens["clerk"]}},
		"POST /v1/cards/expire-due":                  {{token: x.tokens["super"]}},
		"GET /v1/openapi.json":                       {{}},
		"POST /v1/self/register":                     {{ctype: ct, body: j(`{"issuer":"` + testIssuer.String() + `","asn":"` + otherCard.String() + `","doc_type":"resident_id","doc_number":"330205198003050026","password":"` + staffPass + `"}`)}},
		"POST /v1/self/login":                        {{ctype: ct, body: j(`{"doc_type":"resident_id","doc_number":"` + testIDNumber + `","password":"` + staffPass + `"}`)}},
		"GET /v1/self/cards":                         {{token: selfTok}},
		"GET /v1/self/cards/{issuer}/{asn}":          {{path: "/v1/self" + cardURL(own, "")[3:], token: selfTok}},
		"POST /v1/self/cards/{issuer}/{asn}/loss":    {{path: "/v1/self" + cardURL(own, "loss")[3:], token: selfTok}},
	}
}

// replacedCooled is a card lost, replaced by nu (issued) and past its
// cooling period: its loss report is put back 8 days in the store, as
// the fixture's clock moves a second a call.
func (x *cmsFix) replacedCooled(t testing.TB, asn, nu string) citycard.ASN {
	t.Helper()
	ctx := context.Background()
	by := cms.Actor{Who: "clerk", ServicePoint: "nb-counter-01"}
	a, n := x.lost(t, asn), asnOf(t, nu)
	if _, err := x.m.Replace(ctx, by, "replace-"+asn, testIssuer, a, n, cms.Channel{Type: cms.Cash, Party: testParty}); err != nil {
		t.Fatal(err)
	}
	if _, err := x.m.Move(ctx, by, testIssuer, n, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	if _, err := x.m.Sell(ctx, by, "sell-"+nu, testIssuer, n, cms.Channel{Type: cms.Cash, Party: testParty}, 0); err != nil {
		t.Fatal(err)
	}
	c := x.card(t, a)
	c.LostAt = c.LostAt.Add(-8 * 24 * time.Hour)
	c.Version++
	if err := x.db.CMS().UpdateCard(ctx, &c, &cms.AuditRecord{At: time.Now(), Actor: "test", ServicePoint: "test", Subject: "card:" + c.String(), Action: "backdate loss"}); err != nil {
		t.Fatal(err)
	}
	return a
}
