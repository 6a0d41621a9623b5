package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestCardsDormant: four years on, the registered card never used is
// reported with its balance; bad queries are a 422 naming the parameter.
func TestCardsDormant(t *testing.T) {
	x := withCMS(t, newFixture(t))
	a := x.issued(t, "31500000000000000601", 1500)
	b := x.issued(t, "31500000000000000602", 0)
	x.mu.Lock()
	x.at = x.at.AddDate(4, 0, 0)
	x.mu.Unlock()
	code, body := x.do(t, "GET", "/v1/cards/dormant", x.staff, "", nil, nil)
	var page dormantPageJSON
	if err := json.Unmarshal(body, &page); code != 200 || err != nil {
		t.Fatalf("report: %d %s %v", code, body, err)
	}
	if len(page.Cards) != 2 || page.NextAfter != "" || page.Cards[0].ASN != a.String() || page.Cards[1].ASN != b.String() ||
		page.Cards[0].BookBalanceFen != 1500 || page.Cards[0].LastUse != "" || page.Cards[0].State != "active" {
		t.Fatalf("report: %s", body)
	}
	since, err := time.Parse(time.RFC3339Nano, page.Cards[0].DormantSince)
	if issued, _ := time.Parse(time.RFC3339Nano, page.Cards[0].IssuedAt); err != nil || !since.Equal(issued.AddDate(3, 0, 0)) {
		t.Fatalf("dormant since %s, issued %s", page.Cards[0].DormantSince, page.Cards[0].IssuedAt)
	}
	// A page of one, then the next from its next_after.
	code, body = x.do(t, "GET", "/v1/cards/dormant?limit=1", x.staff, "", nil, nil)
	if err := json.Unmarshal(body, &page); code != 200 || err != nil || len(page.Cards) != 1 || page.NextAfter != testIssuer.String()+"/"+a.String() {
		t.Fatalf("a page of one: %d %s", code, body)
	}
	code, body = x.do(t, "GET", "/v1/cards/dormant?limit=1&after="+page.NextAfter, x.staff, "", nil, nil)
	if err := json.Unmarshal(body, &page); code != 200 || err != nil || len(page.Cards) != 1 || page.Cards[0].ASN != b.String() {
		t.Fatalf("the next page: %d %s", code, body)
	}
	for _, q := range []string{"limit=0", "limit=1001", "limit=x", "after=zz", "after=" + a.String(), "after=31500001FFFFFFFF/xyz"} {
		code, body := x.do(t, "GET", "/v1/cards/dormant?"+q, x.staff, "", nil, nil)
		if want := strings.SplitN(q, "=", 2)[0] + "="; code != http.StatusUnprocessableEntity || !strings.Contains(string(body), want) {
			t.Errorf("%s: %d %s", q, code, body)
		}
	}
}
