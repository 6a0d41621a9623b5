package console

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/sqlite"
)

// cardsFixture is the console's fixture with card management over a
// SQLite store, its loss reports onto the fixture's blacklist.
type cardsFixture struct {
	*fixture
	m  *cms.Manager
	st *cms.Staffing // the approvals
	db *sqlite.DB
}

func newCardsFixture(t *testing.T) *cardsFixture {
	t.Helper()
	return withCards(t, newFixture(t))
}

// withCards gives f's console card management over a SQLite store, its
// loss reports onto f's blacklist.
func withCards(t *testing.T, f *fixture) *cardsFixture {
	t.Helper()
	db, err := sqlite.Open(context.Background(), "sqlite:"+filepath.Join(t.TempDir(), "citycard.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := cms.NewProtector(bytes.Repeat([]byte{7}, cms.DataKeyLen), nil)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC)
	now := func() time.Time { at = at.Add(time.Second); return at }
	cf := &cardsFixture{fixture: f, db: db, m: cms.NewManager(db.CMS(), cms.DefaultProducts(), p, now).WithBlacklist(f.bl)}
	cf.st = cms.NewStaffing(db.Staff(), now, cms.StaffOptions{BcryptCost: bcrypt.MinCost})
	// A supervisor to decide approvals, and the fixture's logins as
	// stored accounts too: an approval names its requester's and its
	// decider's.
	if _, ok := f.secrets[RoleSupervisor]; !ok {
		f.secrets[RoleSupervisor] = "secret-of-supervisor"
		f.staff["supervisor"] = struct {
			secret string
			role   Role
		}{f.secrets[RoleSupervisor], RoleSupervisor}
	}
	for _, r := range []Role{RoleAuditor, RoleClerk, RoleSupervisor, RoleAdmin} {
		m := cms.StaffMember{Name: r.String(), Role: cms.Role(r), ServicePoint: consolePoint, PointType: cms.OwnCounter}
		if _, err := cf.st.Add(context.Background(), counter, m, "a long enough password"); err != nil {
			t.Fatal(err)
		}
	}
	f.c.Cards = CMS{Manager: cf.m, Staffing: cf.st, CashParty: "nb-card"}
	return cf
}

var counter = cms.Actor{Who: "setup", ServicePoint: "nb-counter-01"}

// issued applies for, personalizes, sells (loading loadFen) and
// activates a registered citizen card, then loads 1 fen onto it until it
// has flows flows.
func (cf *cardsFixture) issued(t *testing.T, asn string, loadFen int64, flows int) citycard.ASN {
	t.Helper()
	return cf.issue(t, asn, "citizen", true, loadFen, flows)
}

// issue is issued for a card of product, registered to the test's
// cardholder or anonymous.
func (cf *cardsFixture) issue(t *testing.T, asn, product string, registered bool, loadFen int64, flows int) citycard.ASN {
	t.Helper()
	ctx := context.Background()
	a, err := citycard.ParseASN(asn)
	if err != nil {
		t.Fatal(err)
	}
	var holder int64
	if registered {
		born, _ := cms.ParseDate("1990-01-01")
		h, err := cf.m.FindHolder(ctx, cms.ResidentID, "330203199001011236")
		if err != nil {
			h, err = cf.m.Register(ctx, counter, cms.Cardholder{Name: "张三丰", DocType: cms.ResidentID, DocNumber: "330203199001011236", DateOfBirth: born, Phone: "13812345678"})
		}
		if err != nil {
			t.Fatal(err)
		}
		holder = h.ID
	}
	return cf.issueTo(t, a, product, holder, loadFen, flows)
}

// issueTo is issue for holder's card (0: anonymous).
func (cf *cardsFixture) issueTo(t *testing.T, a citycard.ASN, product string, holder, loadFen int64, flows int) citycard.ASN {
	t.Helper()
	ctx := context.Background()
	asn := a.String()
	if _, err := cf.m.Apply(ctx, counter, sim.Issuer, a, product, holder); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.m.Move(ctx, counter, sim.Issuer, a, cms.Personalize); err != nil {
		t.Fatal(err)
	}
	ch := cms.Channel{Type: cms.Cash, Party: "nb-card"}
	if _, err := cf.m.Sell(ctx, counter, "sell-"+asn, sim.Issuer, a, ch, loadFen); err != nil {
		t.Fatal(err)
	}
	if _, err := cf.m.Move(ctx, counter, sim.Issuer, a, cms.Activate); err != nil {
		t.Fatal(err)
	}
	for i := 0; ; i++ {
		fl, err := cf.m.Flows(ctx, sim.Issuer, a)
		if err != nil {
			t.Fatal(err)
		}
		if len(fl) >= flows {
			break
		}
		bal := cms.BookBalances(fl)[a]
		if _, err := cf.m.Load(ctx, counter, fmt.Sprintf("load-%s-%d", asn, i), sim.Issuer, a, ch, 1, bal, 0); err != nil {
			t.Fatal(err)
		}
	}
	return a
}

func cardPath(a citycard.ASN) string {
	return "/cards?issuer=" + sim.Issuer.String() + "&asn=" + a.String()
}

// TestCardPageManaged: the card page shows card management's card as
// cms keeps it: its state, product, holder masked (cms/doc.go: 张**, 3302**********1234,
// 138****5678, never in clear) and the book balance of its flows, newest first.
func TestCardPageManaged(t *testing.T) {
	cf := newCardsFixture(t)
	a := cf.issued(t, "0000000000000101", 2000, 3)
	cl := cf.client(t)
	cf.login(t, cl, RoleAuditor)
	_, page := cf.get(t, cl, cardPath(a))
	c, err := cf.m.Card(context.Background(), sim.Issuer, a)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := cf.m.Product(c.Product)
	book, _ := cf.m.BookBalance(context.Background(), sim.Issuer, a)
	for _, want := range []string{`id="state">active<`, `id="product">` + p.Name + `<`, `id="holder">张**, cardholder 1 (resident_id 3302**********1236), 138****5678<`, `id="bookfen">` + yuan(book) + `<`,
		`<tr data-flow="3"><td class="n">3</td><td>load</td><td class="n">¥0.01</td></tr>`} {
		if !strings.Contains(page, want) {
			t.Errorf("the card page lacks %s", want)
		}
	}
	if book != 2002 {
		t.Errorf("book balance %d fen, want 2002 (2000 sold, 2 loads of 1)", book)
	}
	if strings.Contains(page, "张三丰") || strings.Contains(page, "13812345678") {
		t.Error("the card page shows the holder's name or phone in clear")
	}
	if strings.Index(page, `data-flow="3"`) > strings.Index(page, `data-flow="1"`) {
		t.Error("the transactions are not newest first")
	}
	if strings.Contains(page, `id="reportloss"`) || strings.Contains(page, `action="/cards/move"`) {
		t.Error("the auditor is offered a lifecycle move")
	}
	unknown, _ := citycard.ParseASN("0000000000000999")
	if _, page := cf.get(t, cl, cardPath(unknown)); !strings.Contains(page, `id="cmsnotfound"`) {
		t.Error("a card card management does not know is not said so")
	}
}

// TestCardPageFlowsBound: the page shows the newest cardFlowsMax
// transactions and says it cut them one past the bound.
func TestCardPageFlowsBound(t *testing.T) {
	cf := newCardsFixture(t)
	cl := cf.client(t)
	cf.login(t, cl, RoleAuditor)
	for i, n := range []int{cardFlowsMax, cardFlowsMax + 1} {
		a := cf.issued(t, fmt.Sprintf("00000000000002%02d", i), 100, n)
		_, page := cf.get(t, cl, cardPath(a))
		rows := strings.Count(page, "<tr data-flow=")
		cut := strings.Contains(page, `id="flowscut"`)
		if rows != cardFlowsMax || cut != (n > cardFlowsMax) || !strings.Contains(page, fmt.Sprintf(`data-flow="%d"`, n)) {
			t.Errorf("%d flows: %d rows, cut %v, or the newest is not shown", n, rows, cut)
		}
	}
}

// TestCardMoves: a clerk reports a loss and cancels it (cms.Manager.Move
// in the clerk's name: audited, the card on the blacklist and off it); an
// auditor is refused (403) and offered nothing; a form without the CSRF
// token is refused; a move the card's state forbids shows cms's Conflict,
// naming the state and the move (cms/doc.go's table).
func TestCardMoves(t *testing.T) {
	cf := newCardsFixture(t)
	a := cf.issued(t, "0000000000000301", 1000, 1)
	ctx := context.Background()
	form := func(tok, move string) url.Values {
		return url.Values{"csrf": {tok}, "issuer": {sim.Issuer.String()}, "asn": {a.String()}, "move": {move}}
	}
	aud := cf.client(t)
	atok := cf.login(t, aud, RoleAuditor)
	if resp, _ := cf.post(t, aud, "/cards/move", form(atok, "report-loss")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an auditor's loss report: %d, want 403", resp.StatusCode)
	}
	clerk := cf.client(t)
	tok := cf.login(t, clerk, RoleClerk)
	if _, page := cf.get(t, clerk, cardPath(a)); !strings.Contains(page, `id="reportloss"`) || strings.Contains(page, `id="cancelloss"`) ||
		!strings.Contains(page, `<input type="hidden" name="csrf" value="`+tok+`">`) {
		t.Error("the clerk is not offered the loss report alone, with the session's CSRF token")
	}
	if resp, _ := cf.post(t, clerk, "/cards/move", form("", "report-loss")); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a loss report without the CSRF token: %d, want 403", resp.StatusCode)
	}
	if c, _ := cf.m.Card(ctx, sim.Issuer, a); c.State != cms.Active || cf.bl.Contains(sim.Issuer, a) {
		t.Fatalf("after the refused reports the card is %v, blacklisted %v", c.State, cf.bl.Contains(sim.Issuer, a))
	}
	resp, page := cf.post(t, clerk, "/cards/move", form(tok, "report-loss"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="state">lost<`) || !strings.Contains(page, `id="cancelloss"`) || !strings.Contains(page, `name="listed" value="false"`) {
		t.Fatalf("the clerk's loss report: %d: %s", resp.StatusCode, page)
	}
	if c, _ := cf.m.Card(ctx, sim.Issuer, a); c.State != cms.Lost || !cf.bl.Contains(sim.Issuer, a) {
		t.Errorf("after the report the card is %v, blacklisted %v", c.State, cf.bl.Contains(sim.Issuer, a))
	}
	var last cms.AuditRecord
	if err := cf.db.CMS().AuditLog(ctx, 0, func(r *cms.AuditRecord) error { last = *r; return nil }); err != nil {
		t.Fatal(err)
	}
	if last.Actor != "clerk" || last.ServicePoint != consolePoint || last.Action != "report loss" || last.Subject != "card:"+sim.Issuer.String()+"/"+a.String() {
		t.Errorf("the audit's last record: %+v", last)
	}
	resp, page = cf.post(t, clerk, "/cards/move", form(tok, "report-loss"))
	want := fmt.Sprintf("card %v/%v is lost: report loss is allowed only from issued or active", sim.Issuer, a)
	if resp.StatusCode != http.StatusConflict || !strings.Contains(page, want) {
		t.Errorf("a second loss report: %d, want 409 saying %q: %s", resp.StatusCode, want, page)
	}
	if resp, page := cf.post(t, clerk, "/cards/move", form(tok, "cancel-loss")); resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="state">active<`) || !strings.Contains(page, `name="listed" value="true"`) {
		t.Errorf("the clerk's cancel: %d", resp.StatusCode)
	}
	if resp, _ := cf.post(t, clerk, "/cards/move", form(tok, "refund")); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a move the page does not offer: %d, want 422 (Invalid)", resp.StatusCode)
	}
	// An anonymous card is nobody's to report lost (cms/doc.go's table:
	// registered cards only): the page offers no report.
	anon := cf.issue(t, "0000000000000302", "transit", false, 1000, 1)
	if _, page := cf.get(t, clerk, cardPath(anon)); strings.Contains(page, `id="reportloss"`) || !strings.Contains(page, `id="holder">anonymous<`) {
		t.Error("an anonymous card is offered the loss report, or not shown anonymous")
	}
}

// failingBlacklist refuses every change, as a blacklist store that is
// down would.
type failingBlacklist struct{}

func (failingBlacklist) Set(context.Context, blacklist.Card, bool, string, string) (int64, error) {
	return 0, citycard.E("test", citycard.IO, "blacklist store down")
}

// TestCardMoveBlacklistDown: a loss report whose blacklist change fails
// is kept (cms.Manager.Move: the card moved, kind IO) and the page says
// the blacklist did not take it, rather than an error page over a move
// that was made.
func TestCardMoveBlacklistDown(t *testing.T) {
	cf := newCardsFixture(t)
	a := cf.issued(t, "0000000000000501", 1000, 1)
	f := cf.fixture
	f.c.Cards = CMS{Manager: cf.m.WithBlacklist(failingBlacklist{})}
	cl := f.client(t)
	tok := f.login(t, cl, RoleClerk)
	resp, page := f.post(t, cl, "/cards/move", url.Values{"csrf": {tok}, "issuer": {sim.Issuer.String()}, "asn": {a.String()}, "move": {"report-loss"}})
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, "The blacklist did not take it") || !strings.Contains(page, `id="state">lost<`) {
		t.Errorf("a loss report with the blacklist down: %d: %s", resp.StatusCode, page)
	}
	if c, _ := cf.m.Card(context.Background(), sim.Issuer, a); c.State != cms.Lost {
		t.Errorf("the card is %v, want lost", c.State)
	}
}

// lastAudit is the newest record of card management's audit log.
func (cf *cardsFixture) lastAudit(t *testing.T) cms.AuditRecord {
	t.Helper()
	var last cms.AuditRecord
	if err := cf.db.CMS().AuditLog(context.Background(), 0, func(r *cms.AuditRecord) error { last = *r; return nil }); err != nil {
		t.Fatal(err)
	}
	return last
}

// TestCardReplace: a clerk replaces a lost card from its page (the new
// ASN, the fee shown), in the clerk's name, audited; bad input changes
// nothing; an auditor is refused and offered nothing.
func TestCardReplace(t *testing.T) {
	cf := newCardsFixture(t)
	ctx := context.Background()
	a := cf.issued(t, "0000000000000601", 1000, 1)
	clerk := cf.client(t)
	tok := cf.login(t, clerk, RoleClerk)
	if _, page := cf.get(t, clerk, cardPath(a)); strings.Contains(page, `id="replace"`) {
		t.Error("an active card is offered a replacement")
	}
	if _, err := cf.m.Move(ctx, counter, sim.Issuer, a, cms.ReportLoss); err != nil {
		t.Fatal(err)
	}
	_, page := cf.get(t, clerk, cardPath(a))
	m := regexp.MustCompile(`name="key" value="([^"]+)"`).FindStringSubmatch(page)
	if m == nil || !strings.Contains(page, `id="replace">Replace (fee ¥0.00, cash)<`) && !strings.Contains(page, `id="replace">Replace (fee `) {
		t.Fatalf("the lost card's page offers no replacement: %s", page)
	}
	form := func(tok, key, nu string) url.Values {
		return url.Values{"csrf": {tok}, "issuer": {sim.Issuer.String()}, "asn": {a.String()}, "key": {key}, "new_asn": {nu}}
	}
	aud := cf.client(t)
	atok := cf.login(t, aud, RoleAuditor)
	if _, page := cf.get(t, aud, cardPath(a)); strings.Contains(page, `id="replace"`) {
		t.Error("the auditor is offered the replacement")
	}
	for _, tc := range []struct {
		cl   *http.Client
		form url.Values
		code int
	}{
		{aud, form(atok, m[1], "0000000000000602"), http.StatusForbidden},
		{clerk, form("", m[1], "0000000000000602"), http.StatusForbidden},
		{clerk, form(tok, "", "0000000000000602"), http.StatusUnprocessableEntity},
		{clerk, form(tok, m[1], "00xx"), http.StatusUnprocessableEntity},
		{clerk, form(tok, m[1], ""), http.StatusUnprocessableEntity},
	} {
		if resp, _ := cf.post(t, tc.cl, "/cards/replace", tc.form); resp.StatusCode != tc.code {
			t.Errorf("replace %v: %d, want %d", tc.form, resp.StatusCode, tc.code)
		}
	}
	if c, _ := cf.m.Card(ctx, sim.Issuer, a); c.State != cms.Lost {
		t.Fatalf("after the refused replacements the card is %v", c.State)
	}
	resp, page := cf.post(t, clerk, "/cards/replace", form(tok, m[1], "0000000000000602"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="state">replaced<`) || !strings.Contains(page, "replaced by 0000000000000602 (applied)") ||
		!strings.Contains(page, `id="replacedby"><a href="/cards?issuer=`+sim.Issuer.String()+`&amp;asn=0000000000000602">`) {
		t.Fatalf("the replacement: %d: %s", resp.StatusCode, page)
	}
	nu, err := citycard.ParseASN("0000000000000602")
	if err != nil {
		t.Fatal(err)
	}
	if c, err := cf.m.Card(ctx, sim.Issuer, nu); err != nil || c.Replaces != a || c.State != cms.Applied {
		t.Fatalf("the new card: %+v %v", c, err)
	}
	if last := cf.lastAudit(t); last.Actor != "clerk" || last.Action != "replace" || last.Subject != "card:"+sim.Issuer.String()+"/"+a.String() {
		t.Errorf("the audit's last record: %+v", last)
	}
	// The same form again: the key is booked, nothing twice.
	if resp, _ := cf.post(t, clerk, "/cards/replace", form(tok, m[1], "0000000000000602")); resp.StatusCode != http.StatusOK {
		t.Errorf("the replacement sent again: %d", resp.StatusCode)
	}
}

// TestCardRefund: the quote first (balance, deposit, fee, payout), then
// the confirmation; over the limit the confirmation asks a supervisor's
// approval and moves nothing, a clerk cannot decide it, a supervisor
// approves, and the same confirmation with the approval refunds; sent
// again, nothing is paid twice.
func TestCardRefund(t *testing.T) {
	cf := newCardsFixture(t)
	ctx := context.Background()
	small := cf.issued(t, "0000000000000701", 2000, 1)
	big := cf.issued(t, "0000000000000702", 50000, 3) // 500.02 and the deposit, less the fee: over 500
	clerk := cf.client(t)
	tok := cf.login(t, clerk, RoleClerk)
	aud := cf.client(t)
	cf.login(t, aud, RoleAuditor)
	quote := func(a citycard.ASN) string {
		return "/cards/refund?issuer=" + sim.Issuer.String() + "&asn=" + a.String()
	}
	if resp, _ := cf.get(t, aud, quote(small)); resp.StatusCode != http.StatusForbidden {
		t.Errorf("an auditor's quote: %d, want 403", resp.StatusCode)
	}
	if _, page := cf.get(t, clerk, cardPath(small)); !strings.Contains(page, `id="refundquote"`) {
		t.Fatal("the active card's page offers no refund")
	}
	q, _, err := cf.c.Cards.QuoteRefund(ctx, sim.Issuer, small)
	if err != nil {
		t.Fatal(err)
	}
	resp, page := cf.get(t, clerk, quote(small))
	for _, want := range []string{`id="qbalance">` + yuan(q.BalanceFen) + `<`, `id="qdeposit">` + yuan(q.DepositFen) + `<`, `id="qpaid">` + yuan(q.PaidFen) + `<`,
		`id="qfee">` + yuan(q.FeeFen), `id="confirmrefund">Confirm the refund<`} {
		if resp.StatusCode != http.StatusOK || !strings.Contains(page, want) {
			t.Errorf("the quote lacks %s: %d", want, resp.StatusCode)
		}
	}
	if q.BalanceFen != 2000 || q.PaidFen+q.FeeFen != q.BalanceFen+q.DepositFen {
		t.Fatalf("quote %+v", q)
	}
	if c, _ := cf.m.Card(ctx, sim.Issuer, small); c.State != cms.Active {
		t.Fatalf("the quote moved the card: %v", c.State)
	}
	key := regexp.MustCompile(`id="refundform">[\s\S]*?name="key" value="([^"]+)"`).FindStringSubmatch(page)
	if key == nil {
		t.Fatalf("no key in the refund's form: %s", page)
	}
	form := func(a citycard.ASN, key, approval string) url.Values {
		return url.Values{"csrf": {tok}, "issuer": {sim.Issuer.String()}, "asn": {a.String()}, "key": {key}, "approval": {approval}}
	}
	if resp, _ := cf.post(t, clerk, "/cards/refund", form(small, "", "")); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a refund without a key: %d", resp.StatusCode)
	}
	if resp, _ := cf.post(t, clerk, "/cards/refund", form(small, key[1], "x")); resp.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("a refund with approval x: %d", resp.StatusCode)
	}
	resp, page = cf.post(t, clerk, "/cards/refund", form(small, key[1], ""))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="state">closed<`) || !strings.Contains(page, "refunded: "+yuan(q.PaidFen)[len("¥"):]) {
		t.Fatalf("the refund: %d: %s", resp.StatusCode, page)
	}
	if last := cf.lastAudit(t); last.Actor != "clerk" || last.Action != "refund" {
		t.Errorf("the audit's last record: %+v", last)
	}
	if resp, page := cf.post(t, clerk, "/cards/refund", form(small, key[1], "")); resp.StatusCode != http.StatusOK || !strings.Contains(page, "nothing paid twice") {
		t.Errorf("the refund sent again: %d: %s", resp.StatusCode, page)
	}
	// Its key on another card: refused, naming the key, and that card
	// not touched (before, a closed card's check let the key through).
	if resp, page := cf.post(t, clerk, "/cards/refund", form(big, key[1], "")); resp.StatusCode != http.StatusConflict || !strings.Contains(page, key[1]) {
		t.Errorf("the refund's key on another card: %d: %s", resp.StatusCode, page)
	}
	if c, _ := cf.m.Card(ctx, sim.Issuer, big); c.State != cms.Active {
		t.Fatalf("a key of another card's refund moved the card: %v", c.State)
	}

	// Over the limit.
	resp, page = cf.get(t, clerk, quote(big))
	if !strings.Contains(page, `id="qover"`) || !strings.Contains(page, `Ask a supervisor's approval`) {
		t.Fatalf("the big quote: %d: %s", resp.StatusCode, page)
	}
	bigKey := regexp.MustCompile(`id="refundform">[\s\S]*?name="key" value="([^"]+)"`).FindStringSubmatch(page)[1]
	resp, page = cf.post(t, clerk, "/cards/refund", form(big, bigKey, ""))
	m := regexp.MustCompile(`approval (\d+) asked`).FindStringSubmatch(page)
	if resp.StatusCode != http.StatusAccepted || m == nil || !strings.Contains(page, `name="approval" value="`+m[1]+`"`) {
		t.Fatalf("the big refund: %d: %s", resp.StatusCode, page)
	}
	if c, _ := cf.m.Card(ctx, sim.Issuer, big); c.State != cms.Active {
		t.Fatalf("asking the approval moved the card: %v", c.State)
	}
	decide := url.Values{"csrf": {tok}, "issuer": {sim.Issuer.String()}, "asn": {big.String()}, "approval": {m[1]}, "decision": {"approve"}}
	if resp, _ := cf.post(t, clerk, "/cards/approval", decide); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a clerk approves: %d, want 403", resp.StatusCode)
	}
	if resp, _ := cf.post(t, clerk, "/cards/refund", form(big, bigKey, m[1])); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the refund before its approval: %d, want 403", resp.StatusCode)
	}
	super := cf.client(t)
	stok := cf.login(t, super, RoleSupervisor)
	decide.Set("csrf", stok)
	if resp, page := cf.post(t, super, "/cards/approval", decide); resp.StatusCode != http.StatusOK || !strings.Contains(page, "approved") {
		t.Fatalf("the supervisor's approval: %d: %s", resp.StatusCode, page)
	}
	if resp, page := cf.post(t, clerk, "/cards/refund", form(big, "another key", m[1])); resp.StatusCode != http.StatusForbidden {
		t.Errorf("the approval for another request: %d: %s", resp.StatusCode, page)
	}
	resp, page = cf.post(t, clerk, "/cards/refund", form(big, bigKey, m[1]))
	if resp.StatusCode != http.StatusOK || !strings.Contains(page, `id="state">closed<`) {
		t.Fatalf("the approved refund: %d: %s", resp.StatusCode, page)
	}
	// The big refund's key sent for the small card, closed too: not a
	// replay of the small card's refund (before, any key booked was
	// answered "nothing paid twice" for a closed card), a Conflict.
	if resp, page := cf.post(t, clerk, "/cards/refund", form(small, bigKey, "")); resp.StatusCode != http.StatusConflict || !strings.Contains(page, bigKey) {
		t.Errorf("another card's refund key on a closed card: %d: %s", resp.StatusCode, page)
	}
}
