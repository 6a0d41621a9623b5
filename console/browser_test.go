package console

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/cms"
	"github.com/citycard/citycard/sim"
)

// chromium finds the browser: $CITYCARD_CHROMIUM, else chromium (the
// Debian package) or chromium-browser on the PATH; "" when there is none.
func chromium() string {
	if p := os.Getenv("CITYCARD_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// withAPI serves the API beside the console, as citycard serve does, so
// that the browser test checks the console's figures against it.
func (f *fixture) withAPI(t *testing.T) string {
	t.Helper()
	const token = "api-auditor-token-0123456789"
	staff := &api.StaticStaff{}
	staff.Add(token, api.Staff{Name: "api", Role: api.RoleAuditor})
	s := &api.Server{Acquirer: f.a, Staff: staff, Blacklist: f.bl, Rejections: f.j, Batches: f.j,
		Params: func() api.Parameters { return api.Parameters{} }, Apps: f.apps}
	ch, err := f.c.Handler()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/v1/", s.Handler())
	mux.Handle("/", ch)
	f.srv.Close()
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return token
}

// apiJSON GETs path from the API with the staff token into v.
func (f *fixture) apiJSON(t *testing.T, token, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("API GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("API GET %s: %v", path, err)
	}
}

// TestBrowser drives the console in headless Chromium: it logs in, opens
// every page (the charts drawn under the console's Content-Security-Policy),
// checks figures against the API, tries an operator's action as an
// auditor, resubmits a rejection as an operator through htmx, checks a
// clearing cycle's positions against the store, tries its review as an
// auditor (403) and its approval by its reviewer (403), reports a card
// lost as a clerk by clicking (card management's state and the
// blacklist after it), and saves a
// screenshot of each page in $CITYCARD_SCREENSHOTS (default: a temporary
// directory, logged). It skips when no Chromium is installed.
func TestBrowser(t *testing.T) {
	path := chromium()
	if path == "" {
		t.Skip("no Chromium (apt-get install chromium, or set CITYCARD_CHROMIUM): the browser test needs one")
	}
	if testing.Short() {
		t.Skip("-short: the browser test starts Chromium")
	}
	f := newClearingFixture(t)
	f.c.Keys = f.city.Store
	cards := withCards(t, f.fixture)
	af := withApps(t, f.fixture, 120)
	token := f.withAPI(t)
	dir := os.Getenv("CITYCARD_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", dir)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute) // a loaded machine: the pages of five applications too
	defer cancel()
	actx, cancelA := chromedp.NewExecAllocator(ctx, chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.Flag("disable-background-networking", true), chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900))
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx)
	defer cancelB()
	if err := chromedp.Do(bctx); err != nil { // start the browser
		t.Fatalf("starting %s: %v", path, err)
	}
	// Every console message the pages write: a CSP violation or a script
	// error shows here.
	var mu sync.Mutex
	var problems []string
	go func() {
		for m, err := range chromedp.Console(bctx) {
			if err != nil {
				return
			}
			// The auditor's refused action (below) logs its 403: expected.
			if (m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException) && !strings.Contains(m.Text, "status of 403") {
				mu.Lock()
				problems = append(problems, m.String())
				mu.Unlock()
			}
		}
	}()
	shot := func(name string) {
		t.Helper()
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return strings.TrimSpace(s)
	}
	eval := func(js string) int {
		t.Helper()
		n, err := chromedp.Run(bctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return n
	}
	login := func(role Role) {
		t.Helper()
		do("log in as "+role.String(),
			chromedp.Navigate(f.srv.URL+"/"),
			chromedp.WaitVisible(chromedp.ID("name")),
			chromedp.SendKeys(chromedp.ID("name"), role.String()),
			chromedp.SendKeys(chromedp.ID("secret"), f.secrets[role]),
			chromedp.Click(chromedp.ID("login")),
			chromedp.WaitVisible(chromedp.ID("who")),
		)
	}

	// The login page first: / sends there.
	do("open /", chromedp.Navigate(f.srv.URL+"/"), chromedp.WaitVisible(chromedp.ID("login")))
	shot("login")
	login(RoleAuditor)
	if got := text("#who"); got != "auditor (auditor)" {
		t.Fatalf("logged in as %q", got)
	}

	asn := f.city.Cards[7].ASN.String()
	term := f.city.Terminals[1].ID.String()
	pages := []struct{ name, path, charts string }{
		{"overview", "/", "1"},
		{"ridership", "/ridership", "3"},
		{"rejections", "/rejections", ""},
		{"flagged", "/flagged", ""},
		{"card", "/cards?issuer=" + sim.Issuer.String() + "&asn=" + asn, ""},
		{"terminals", "/terminals?day=" + f.days[1], ""},
		{"batch", "/batches/" + term + "/d1-t1", ""},
		{"fares", "/fares", ""},
		{"clearing", "/clearing", ""},
		{"cycle", "/clearing/" + f.day1.String(), "1"},
		{"party", "/clearing/" + f.day1.String() + "/parties/" + f.city.Terminals[1].Operator, ""},
		{"keys", "/keys", ""},
	}
	for _, p := range pages {
		do("open "+p.path, chromedp.Navigate(f.srv.URL+p.path), chromedp.WaitVisible(chromedp.CSS("main h1")))
		if p.charts != "" {
			// Each chart drawn by Chart.js, from its data-chart attribute.
			do("charts of "+p.path, chromedp.Poll[chromedp.Void](`document.body.dataset.chartsDrawn === "1"`, chromedp.WithPollingTimeout(10*time.Second)))
			if n := eval(`Array.from(document.querySelectorAll("canvas")).filter(c => Chart.getChart(c) !== undefined).length`); strconv.Itoa(n) != p.charts {
				t.Errorf("%s: %d charts drawn, want %s", p.path, n, p.charts)
			}
		}
		shot(p.name)
	}

	// Figures against the API: the card's balance, a batch's records.
	var shadow struct {
		ReportedBalanceFen int64 `json:"reported_balance_fen"`
	}
	f.apiJSON(t, token, "/v1/cards/"+sim.Issuer.String()+"/"+asn+"/shadow", &shadow)
	do("card page", chromedp.Navigate(f.srv.URL+pages[4].path), chromedp.WaitVisible(chromedp.ID("reported")))
	if got, want := text("#reported"), yuan(shadow.ReportedBalanceFen); got != want {
		t.Errorf("card page balance %q, the API's %q", got, want)
	}
	var records []json.RawMessage
	f.apiJSON(t, token, "/v1/batches/"+term+"/d1-t1", &records)
	do("batch page", chromedp.Navigate(f.srv.URL+pages[6].path), chromedp.WaitVisible(chromedp.ID("count")))
	if got := text("#count"); got != strconv.Itoa(len(records)) {
		t.Errorf("batch page: %s records, the API's %d", got, len(records))
	}
	// The overview's taps link to ridership; the day's figure is the same there.
	do("overview", chromedp.Navigate(f.srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS(`a[data-figure="Taps"]`)))
	taps := text(`a[data-figure="Taps"] .now`)
	do("follow taps", chromedp.Click(chromedp.CSS(`a[data-figure="Taps"]`)), chromedp.WaitVisible(chromedp.ID("taps")))
	if got := text("#taps"); got != taps || got != num(f.taps[1]) {
		t.Errorf("taps: overview %s, ridership %s, uploaded %s", taps, got, num(f.taps[1]))
	}

	// A cycle's positions against the store, party by party, in yuan;
	// and the keys page lists the store's keys by KCV.
	cyc, err := f.cycles.Cycle(context.Background(), f.day1)
	if err != nil {
		t.Fatal(err)
	}
	do("cycle page", chromedp.Navigate(f.srv.URL+"/clearing/"+f.day1.String()), chromedp.WaitVisible(chromedp.ID("positions")))
	type shownRow struct{ Party, Net, Rec, Pay string }
	shown, err := chromedp.Run(bctx, chromedp.Evaluate[[]shownRow](`Array.from(document.querySelectorAll("#positions tr[data-party]")).map(r => ({Party: r.dataset.party, Net: r.querySelector(".net").textContent, Rec: r.querySelector(".rec").textContent, Pay: r.querySelector(".pay").textContent}))`))
	if err != nil {
		t.Fatal(err)
	}
	if len(shown) != len(cyc.Result.Positions) {
		t.Errorf("cycle page: %d positions, the store's %d", len(shown), len(cyc.Result.Positions))
	}
	for i, p := range cyc.Result.Positions[:min(len(shown), len(cyc.Result.Positions))] {
		if got := shown[i]; got.Party != p.Party || got.Net != yuan(p.NetFen) || got.Rec != yuan(p.ReceivableFen) || got.Pay != yuan(p.PayableFen) {
			t.Errorf("cycle page row %d: %+v, the store's %+v", i, got, p)
		}
	}
	do("keys page", chromedp.Navigate(f.srv.URL+"/keys"), chromedp.WaitVisible(chromedp.ID("keys")))
	infos, _ := f.city.Store.List()
	if n := eval(`document.querySelectorAll("#keys td.kcv").length`); n != len(infos) || n == 0 {
		t.Errorf("keys page: %d keys, the store's %d", n, len(infos))
	}

	// Every application's page, reached from the list: its daily
	// report's figures are the API's (the application's own token), its
	// charts drawn, a figure's link leads to as many records.
	type reportJSON struct {
		Actions []struct {
			Action string `json:"action"`
			Taps   int64  `json:"taps"`
			Cards  int64  `json:"cards"`
		} `json:"actions"`
	}
	for i, a := range af.list {
		do("applications", chromedp.Navigate(f.srv.URL+"/apps"), chromedp.WaitVisible(chromedp.ID("applist")))
		if i == 0 {
			shot("apps-list")
		}
		do("open "+a.ID,
			chromedp.Click(chromedp.CSS(`a[data-app="`+a.ID+`"]`)),
			chromedp.WaitVisible(chromedp.ID("report")),
			chromedp.Poll[chromedp.Void](`document.body.dataset.chartsDrawn === "1"`, chromedp.WithPollingTimeout(10*time.Second)),
		)
		if got := text("#day"); got != f.days[1] {
			t.Errorf("%s: day %s, want the newest, %s", a.ID, got, f.days[1])
		}
		var rep reportJSON
		f.apiJSON(t, af.tokens[a.ID], "/v1/apps/"+a.ID+"/reports/"+strings.ReplaceAll(f.days[1], "-", ""), &rep)
		if len(rep.Actions) == 0 {
			t.Errorf("%s: the API reports nothing", a.ID)
		}
		for _, l := range rep.Actions {
			if got := text("#fig-taps-" + l.Action + " .now"); got != num(l.Taps) {
				t.Errorf("%s: %s taps %s, the API's %d", a.ID, l.Action, got, l.Taps)
			}
			if got := text("#fig-cards-" + l.Action + " .now"); got != num(l.Cards) {
				t.Errorf("%s: %s cards %s, the API's %d", a.ID, l.Action, got, l.Cards)
			}
		}
		canvases := eval(`document.querySelectorAll("canvas").length`)
		if n := eval(`Array.from(document.querySelectorAll("canvas")).filter(c => Chart.getChart(c) !== undefined).length`); n != canvases || n < 2 {
			t.Errorf("%s: %d of %d charts drawn, want 2 or more", a.ID, n, canvases)
		}
		if a.Kind == card.AppCampus || a.Kind == card.AppParking {
			// The line ends where the figure says: the cards inside.
			if got, want := eval(`Chart.getChart(document.querySelector("#inside canvas")).data.datasets[0].data[23]`), text("#fig-inside .now"); strconv.Itoa(got) != want || got == 0 {
				t.Errorf("%s: the inside line ends at %d, the figure %s", a.ID, got, want)
			}
		}
		shot("app-" + a.ID)
		first := rep.Actions[0]
		do("follow "+first.Action,
			chromedp.Click(chromedp.CSS("#fig-taps-"+first.Action)),
			chromedp.WaitVisible(chromedp.ID("apprecords")),
		)
		if got := text("#matched"); got != num(first.Taps) {
			t.Errorf("%s: %s records behind %d taps", a.ID, got, first.Taps)
		}
		if a.Kind == card.AppCampus {
			shot("app-records-" + a.ID)
			// The school's attendance page opens with its chart, and its
			// totals are its pupils' lines (attendance_test.go checks the
			// figures against the API's report, over a school with classes).
			do("attendance of "+a.ID,
				chromedp.Navigate(f.srv.URL+"/apps/"+a.ID+"/attendance?day="+f.days[1]),
				chromedp.WaitVisible(chromedp.ID("summary")),
				chromedp.Poll[chromedp.Void](`document.body.dataset.chartsDrawn === "1"`, chromedp.WithPollingTimeout(10*time.Second)),
			)
			total := 0
			for _, name := range []string{"present", "late", "absent"} {
				n, err := strconv.Atoi(strings.ReplaceAll(text("#fig-"+name+" .now"), ",", ""))
				if err != nil {
					t.Fatalf("%s attendance: %s: %v", a.ID, name, err)
				}
				total += n
			}
			if rows := eval(`document.querySelectorAll("section.attendance tr[data-presence]").length`); rows != total {
				t.Errorf("%s attendance: %d present, late and absent, %d pupils' lines", a.ID, total, rows)
			}
			shot("app-attendance-" + a.ID)
		}
	}
	// From an application's record to its card: an auditor sees no
	// blacklisting there and is refused it even with the session's CSRF
	// token; the blacklist stays as it was.
	gym := af.dayRecords("nb-gym", f.days[1])[0].Card
	do("a gym record's card",
		chromedp.Navigate(f.srv.URL+"/apps/nb-gym/records?day="+f.days[1]),
		chromedp.WaitVisible(chromedp.ID("apprecords")),
		chromedp.Click(chromedp.CSS(`#apprecords a[href*="`+gym.ASN.String()+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("main h1")),
	)
	if n := eval(`document.querySelectorAll("form[action='/cards/blacklist']").length`); n != 0 {
		t.Errorf("the auditor is offered %d blacklist forms", n)
	}
	blv := f.bl.Version()
	status := eval(`fetch("/cards/blacklist", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "issuer=` + gym.Issuer.String() + `&asn=` + gym.ASN.String() + `&listed=true&reason=test&csrf=" + encodeURIComponent(document.querySelector('meta[name="csrf-token"]').content)}).then(r => r.status)`)
	if status != http.StatusForbidden || f.bl.Contains(gym.Issuer, gym.ASN) || f.bl.Version() != blv {
		t.Errorf("an auditor blacklisting a gym card: %d, want 403; listed %v", status, f.bl.Contains(gym.Issuer, gym.ASN))
	}

	// An auditor is offered no sign-off, and the review is refused even
	// with the session's CSRF token.
	day2 := "/clearing/" + f.day2.String()
	do("computed cycle", chromedp.Navigate(f.srv.URL+day2), chromedp.WaitVisible(chromedp.ID("nosign")))
	if n := eval(`document.querySelectorAll("#sign").length`); n != 0 {
		t.Errorf("the auditor sees %d sign-off buttons", n)
	}
	status = eval(`fetch("` + day2 + `/sign", {method: "POST", headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: "move=review&csrf=" + encodeURIComponent(document.querySelector('meta[name="csrf-token"]').content)}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Errorf("an auditor's review: %d, want 403", status)
	}

	// An auditor sees no resubmit button, and the action is refused even
	// with the session's CSRF token.
	do("rejections", chromedp.Navigate(f.srv.URL+"/rejections"), chromedp.WaitVisible(chromedp.ID("rejections")))
	if n := eval(`document.querySelectorAll("button.resubmit").length`); n != 0 {
		t.Errorf("the auditor sees %d resubmit buttons", n)
	}
	status = eval(`fetch("/rejections/1/resubmit", {method: "POST", headers: {"X-CSRF-Token": document.querySelector('meta[name="csrf-token"]').content}}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Errorf("an auditor's resubmission: %d, want 403", status)
	}

	// An operator resubmits through htmx: the button becomes its status.
	do("log out", chromedp.Click(chromedp.CSS("form.who button")), chromedp.WaitVisible(chromedp.ID("login")))
	login(RoleClerk)
	do("resubmit",
		chromedp.Navigate(f.srv.URL+"/rejections"),
		chromedp.WaitVisible(chromedp.CSS("button.resubmit")),
		chromedp.Click(chromedp.CSS("button.resubmit")),
		chromedp.WaitVisible(chromedp.CSS("span.status")),
	)
	if got := text("span.status"); got != "resubmitted: rejected" {
		t.Errorf("after resubmitting a forgery: %q, want it rejected again", got)
	}
	shot("rejections-operator")

	// A clerk reports a card lost by clicking: card management moves it
	// (audited) and the blacklist takes it.
	lost := cards.issued(t, "0000000000000401", 1500, 2)
	do("report loss",
		chromedp.Navigate(f.srv.URL+cardPath(lost)),
		chromedp.WaitVisible(chromedp.ID("reportloss")),
		chromedp.Click(chromedp.ID("reportloss")),
		chromedp.WaitVisible(chromedp.ID("message")),
		chromedp.WaitVisible(chromedp.ID("cancelloss")),
	)
	if got := text("#state"); got != "lost" {
		t.Errorf("after the click the card page says %q", got)
	}
	if c, _ := cards.m.Card(context.Background(), sim.Issuer, lost); c.State != cms.Lost || !f.bl.Contains(sim.Issuer, lost) {
		t.Errorf("after the click the card is %v, blacklisted %v", c.State, f.bl.Contains(sim.Issuer, lost))
	}
	shot("card-lost")

	// The clerk replaces it: the new card's ASN typed, the fee shown on
	// the button.
	do("replace",
		chromedp.SendKeys(chromedp.ID("newasn"), "0000000000000402"),
		chromedp.Click(chromedp.ID("replace")),
		chromedp.WaitVisible(chromedp.ID("replacedby")), // the loss report's page had a message already
	)
	if got := text("#state"); got != "replaced" {
		t.Errorf("after the replacement the card page says %q", got)
	}
	if c, _ := cards.m.Card(context.Background(), sim.Issuer, lost); c.State != cms.Replaced || c.ReplacedBy.String() != "0000000000000402" {
		t.Errorf("after the replacement the card is %v, replaced by %v", c.State, c.ReplacedBy)
	}
	shot("card-replaced")

	// A refund: the quote first, then the confirmation. Over the limit
	// it asks a supervisor's approval, which the supervisor gives below.
	small := cards.issued(t, "0000000000000403", 2000, 1)
	do("refund's quote",
		chromedp.Navigate(f.srv.URL+cardPath(small)),
		chromedp.WaitVisible(chromedp.ID("refundquote")),
		chromedp.Click(chromedp.ID("refundquote")),
		chromedp.WaitVisible(chromedp.ID("quote")),
	)
	q, _, err := cards.c.Cards.QuoteRefund(context.Background(), sim.Issuer, small)
	if err != nil {
		t.Fatal(err)
	}
	if got := text("#qpaid"); got != yuan(q.PaidFen) || text("#qbalance") != yuan(q.BalanceFen) || text("#qdeposit") != yuan(q.DepositFen) {
		t.Errorf("the quote shows %s paid (balance %s, deposit %s), card management quotes %+v", got, text("#qbalance"), text("#qdeposit"), q)
	}
	shot("card-refund-quote")
	do("refund", chromedp.Click(chromedp.ID("confirmrefund")), chromedp.WaitVisible(chromedp.ID("message")))
	if got := text("#state"); got != "closed" {
		t.Errorf("after the refund the card page says %q", got)
	}
	shot("card-refunded")
	big := cards.issued(t, "0000000000000404", 50000, 3)
	do("a refund over the limit",
		chromedp.Navigate(f.srv.URL+"/cards/refund?issuer="+sim.Issuer.String()+"&asn="+big.String()),
		chromedp.WaitVisible(chromedp.ID("qover")),
		chromedp.Click(chromedp.ID("confirmrefund")),
		chromedp.WaitVisible(chromedp.ID("message")),
	)
	approval := regexp.MustCompile(`approval (\d+) asked`).FindStringSubmatch(text("#message"))
	if approval == nil {
		t.Fatalf("the refund over the limit: %q", text("#message"))
	}
	shot("card-refund-approval-asked")

	// A supervisor reviews the computed cycle; approving it too is
	// refused (a second person approves).
	do("log out", chromedp.Click(chromedp.CSS("form.who button")), chromedp.WaitVisible(chromedp.ID("login")))
	login(RoleSupervisor)
	do("review",
		chromedp.Navigate(f.srv.URL+day2),
		chromedp.WaitVisible(chromedp.ID("sign")),
		chromedp.Click(chromedp.ID("sign")),
		chromedp.WaitVisible(chromedp.ID("message")),
	)
	if got := text("#state"); got != "reviewed" {
		t.Errorf("after the review the cycle is %q", got)
	}
	do("approve as the reviewer", chromedp.Click(chromedp.ID("sign")), chromedp.WaitVisible(chromedp.ID("error")))
	if got := eval(`Number(document.getElementById("error").dataset.status)`); got != http.StatusForbidden {
		t.Errorf("the reviewer approving: status %d, want 403", got)
	}
	shot("approve-refused")

	// The supervisor approves the clerk's refund on the card's page; the
	// clerk confirms it with the approval.
	do("approve the refund",
		chromedp.Navigate(f.srv.URL+cardPath(big)),
		chromedp.WaitVisible(chromedp.ID("approvalid")),
		chromedp.SendKeys(chromedp.ID("approvalid"), approval[1]),
		chromedp.Click(chromedp.ID("approve")),
		chromedp.WaitVisible(chromedp.ID("message")),
	)
	if got := text("#message"); !strings.Contains(got, "approved") {
		t.Errorf("after the approval: %q", got)
	}
	shot("card-refund-approved")
	do("log out", chromedp.Click(chromedp.CSS("form.who button")), chromedp.WaitVisible(chromedp.ID("login")))
	login(RoleClerk)
	do("the approved refund",
		chromedp.Navigate(f.srv.URL+"/cards/refund?issuer="+sim.Issuer.String()+"&asn="+big.String()+"&approval="+approval[1]),
		chromedp.WaitVisible(chromedp.ID("quote")),
		chromedp.Click(chromedp.ID("confirmrefund")),
		chromedp.WaitVisible(chromedp.ID("message")),
	)
	if got := text("#state"); got != "closed" {
		t.Errorf("after the approved refund the card page says %q: %s", got, text("#message"))
	}
	shot("card-refund-confirmed")
	if st, _ := f.store.Cycle(context.Background(), f.day2); st.Cycle.State != clearing.Reviewed || st.Cycle.ReviewedBy != "supervisor" {
		t.Errorf("after the refused approval: %v, reviewed by %q", st.Cycle.State, st.Cycle.ReviewedBy)
	}

	// The applications page over a journal with stamps (the city's
	// fixture has none): its chart drawn, its table the journal's.
	stamps := &listJournal{}
	for i, st := range [][2]uint8{{1, 1}, {1, 2}, {2, 4}, {2, 5}, {3, 3}, {4, 3}, {5, 1}} { // record/application.go's pairs
		stamps.addStamp(24+i%2, st[0], st[1])
	}
	srv2, _ := bareConsole(t, batchJournal{stamps}, nil)
	do("applications",
		chromedp.Navigate(srv2.URL+"/apps"),
		chromedp.WaitVisible(chromedp.ID("name")),
		chromedp.SendKeys(chromedp.ID("name"), "auditor"),
		chromedp.SendKeys(chromedp.ID("secret"), "s"),
		chromedp.Click(chromedp.ID("login")),
		chromedp.WaitVisible(chromedp.ID("apps")),
		chromedp.Poll[chromedp.Void](`document.body.dataset.chartsDrawn === "1"`, chromedp.WithPollingTimeout(10*time.Second)),
	)
	if n := eval(`Array.from(document.querySelectorAll("canvas")).filter(c => Chart.getChart(c) !== undefined).length`); n != 1 {
		t.Errorf("applications page: %d charts drawn, want 1", n)
	}
	if got := text("#total"); got != "7" {
		t.Errorf("applications page: %s stamps, the journal's 7", got)
	}
	shot("apps")

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Errorf("browser console: %s", p)
	}
}
