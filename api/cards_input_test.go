package api

import (
	"net/http"

	"github.com/citycard/citycard/cms"
	"strings"
	"testing"
)

// kv is one field of a test body, its value as JSON.
type kv struct{ k, v string }

func body(fields []kv) string {
	var b strings.Builder
	b.WriteString("{")
	for i, f := range fields {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"` + f.k + `":` + f.v)
	}
	return b.String() + "}"
}

// variants are the bad forms of a good body: every field missing in
// turn, every field of the wrong type, an unknown field, a field twice,
// a key in the wrong case, malformed JSON, not an object, trailing data
// and a body over the route's limit.
func variants(good []kv) map[string]string {
	out := map[string]string{
		"malformed":     body(good)[:len(body(good))/2],
		"not an object": `[` + body(good) + `]`,
		"trailing":      body(good) + `{}`,
		"unknown field": body(append(append([]kv{}, good...), kv{"extra", "1"})),
		"twice":         body(append(append([]kv{}, good...), good[0])),
		"wrong case":    body(append([]kv{{strings.ToUpper(good[0].k), good[0].v}}, good[1:]...)),
		"huge":          body(append([]kv{{good[0].k, `"` + strings.Repeat("x", 8192) + `"`}}, good[1:]...)),
		"empty":         ``,
	}
	for i, f := range good {
		without := append(append([]kv{}, good[:i]...), good[i+1:]...)
		out["missing "+f.k] = body(without)
		wrong := append([]kv{}, good...)
		if strings.HasPrefix(f.v, `"`) {
			wrong[i].v = "true"
		} else {
			wrong[i].v = `"12"`
		}
		out["wrong type "+f.k] = body(wrong)
	}
	return out
}

func with(good []kv, k, v string) string {
	out := append([]kv{}, good...)
	for i := range out {
		if out[i].k == k {
			out[i].v = v
		}
	}
	return body(out)
}

// TestBadInput sends every write route of card management and staff
// malformed JSON, missing fields, wrong types, unknown fields, huge
// bodies, a wrong media type, bad identifiers and unknown products: each
// is answered 4xx with a message naming what is wrong, and nothing
// changes (the audit log, which every change writes, keeps its length;
// the cards keep their versions).
func TestBadInput(t *testing.T) {
	x := withCMS(t, newFixture(t))
	x.holder(t)
	active := x.issued(t, "31500000000000000501", 1000)
	lost := x.lost(t, "31500000000000000502")
	issuer := `"` + testIssuer.String() + `"`
	ch := []kv{{"channel", `"cash"`}, {"channel_party", `"` + testParty + `"`}, {"channel_reference", `""`}}
	type route struct {
		path, who string
		good      []kv
		special   map[string]string // more bad bodies: what -> body
	}
	routes := []route{
		{"/v1/staff/login", "", []kv{{"name", `"clerk"`}, {"password", `"` + staffPass + `"`}}, nil},
		{"/v1/staff", "admin", []kv{{"name", `"dee"`}, {"role", `"clerk"`}, {"service_point", `"p1"`}, {"point_type", `"agent"`}, {"password", `"` + staffPass + `"`}}, map[string]string{
			"unknown role":    body([]kv{{"name", `"dee"`}, {"role", `"operator"`}, {"service_point", `"p1"`}, {"point_type", `"agent"`}, {"password", `"` + staffPass + `"`}}),
			"bad name":        body([]kv{{"name", `"Dee Lee"`}, {"role", `"clerk"`}, {"service_point", `"p1"`}, {"point_type", `"agent"`}, {"password", `"` + staffPass + `"`}}),
			"short password":  body([]kv{{"name", `"dee"`}, {"role", `"clerk"`}, {"service_point", `"p1"`}, {"point_type", `"agent"`}, {"password", `"short"`}}),
			"unknown point":   body([]kv{{"name", `"dee"`}, {"role", `"clerk"`}, {"service_point", `"p1"`}, {"point_type", `"kiosk"`}, {"password", `"` + staffPass + `"`}}),
			"name taken":      body([]kv{{"name", `"clerk"`}, {"role", `"clerk"`}, {"service_point", `"p1"`}, {"point_type", `"agent"`}, {"password", `"` + staffPass + `"`}}),
			"empty the point": body([]kv{{"name", `"dee"`}, {"role", `"clerk"`}, {"service_point", `""`}, {"point_type", `"agent"`}, {"password", `"` + staffPass + `"`}}),
		}},
		{"/v1/cardholders", "clerk", []kv{{"name", `"李四"`}, {"doc_type", `"resident_id"`}, {"doc_number", `"330205195612020048"`}, {"date_of_birth", `"1956-12-02"`}, {"phone", `""`}, {"school", `""`}, {"studies_end", `""`}}, map[string]string{
			"bad check digit":   body([]kv{{"name", `"李四"`}, {"doc_type", `"resident_id"`}, {"doc_number", `"330205195612020049"`}, {"date_of_birth", `"1956-12-02"`}, {"phone", `""`}, {"school", `""`}, {"studies_end", `""`}}),
			"registered":        body([]kv{{"name", `"李四"`}, {"doc_type", `"resident_id"`}, {"doc_number", `"` + testIDNumber + `"`}, {"date_of_birth", `"` + testBorn + `"`}, {"phone", `""`}, {"school", `""`}, {"studies_end", `""`}}),
			"bad date":          body([]kv{{"name", `"李四"`}, {"doc_type", `"resident_id"`}, {"doc_number", `"330205195612020048"`}, {"date_of_birth", `"1956-13-02"`}, {"phone", `""`}, {"school", `""`}, {"studies_end", `""`}}),
			"unknown doc":       body([]kv{{"name", `"李四"`}, {"doc_type", `"library_card"`}, {"doc_number", `"330205195612020048"`}, {"date_of_birth", `"1956-12-02"`}, {"phone", `""`}, {"school", `""`}, {"studies_end", `""`}}),
			"bad phone":         body([]kv{{"name", `"李四"`}, {"doc_type", `"resident_id"`}, {"doc_number", `"330205195612020048"`}, {"date_of_birth", `"1956-12-02"`}, {"phone", `"12"`}, {"school", `""`}, {"studies_end", `""`}}),
			"not the id's date": body([]kv{{"name", `"李四"`}, {"doc_type", `"resident_id"`}, {"doc_number", `"330205195612020048"`}, {"date_of_birth", `"1956-12-03"`}, {"phone", `""`}, {"school", `""`}, {"studies_end", `""`}}),
		}},
	}
	apply := []kv{{"issuer", issuer}, {"asn", `"31500000000000000509"`}, {"product", `"citizen"`}, {"holder_id", "1"}}
	routes = append(routes, route{"/v1/cards", "clerk", apply, map[string]string{
		"unknown product": with(apply, "product", `"gold"`),
		"bad issuer":      with(apply, "issuer", `"3150"`),
		"bad asn":         with(apply, "asn", `"31500000000000000G09"`),
		"unknown holder":  with(apply, "holder_id", "99"),
		"negative holder": with(apply, "holder_id", "-1"),
		"float holder":    with(apply, "holder_id", "1.0"),
		"asn taken":       with(apply, "asn", `"`+active.String()+`"`),
		"anonymous":       with(apply, "holder_id", "0"),
	}})
	issue := append([]kv{{"key", `"bad-sell"`}, {"load_fen", "100"}}, ch...)
	routes = append(routes, route{cardURL(active, "issue"), "clerk", issue, map[string]string{
		"issued already":  body(issue),
		"bad channel":     with(issue, "channel", `"gold"`),
		"bad party":       with(issue, "channel_party", `"nb card"`),
		"negative load":   with(issue, "load_fen", "-1"),
		"empty key":       with(issue, "key", `""`),
		"fractional load": with(issue, "load_fen", "1.5"),
		"exponent load":   with(issue, "load_fen", "1e3"),
	}})
	applied := asnOf(t, "31500000000000000510")
	if _, err := x.m.Apply(t.Context(), cms.Actor{Who: "clerk", ServicePoint: "p"}, testIssuer, applied, "citizen", 1); err != nil {
		t.Fatal(err)
	}
	routes = append(routes, route{cardURL(applied, "issue"), "clerk", issue, map[string]string{
		"load over the limit": with(issue, "load_fen", "50001"),
		"bad party":           with(issue, "channel_party", `"nb card"`),
		"long reference":      with(issue, "channel_reference", `"`+strings.Repeat("r", 65)+`"`),
	}})
	replace := append([]kv{{"key", `"bad-replace"`}, {"new_asn", `"31500000000000000599"`}}, ch...)
	routes = append(routes, route{cardURL(lost, "replace"), "clerk", replace, map[string]string{
		"bad new asn":    with(replace, "new_asn", `"12"`),
		"new asn taken":  with(replace, "new_asn", `"`+active.String()+`"`),
		"bad channel":    with(replace, "channel", `"cheque"`),
		"long reference": with(replace, "channel_reference", `"`+strings.Repeat("r", 65)+`"`),
	}})
	refund := []kv{{"key", `"bad-refund"`}, {"payee", `"cash"`}, {"payee_party", `"` + testParty + `"`}, {"payee_reference", `""`}, {"approval_id", "0"}}
	routes = append(routes, route{cardURL(active, "refund"), "clerk", refund, map[string]string{
		"unknown approval": with(refund, "approval_id", "7"),
		"bad payee":        with(refund, "payee", `"gold"`),
		"long key":         with(refund, "key", `"`+strings.Repeat("k", 129)+`"`),
	}})

	move := []kv{{"key", `"bad-move"`}}
	routes = append(routes, route{cardURL(lost, "move-balance"), "clerk", move, map[string]string{
		"not replaced": body(move),
		"long key":     with(move, "key", `"`+strings.Repeat("k", 129)+`"`),
		"empty key":    with(move, "key", `""`),
	}})

	selfReg := []kv{{"issuer", issuer}, {"asn", `"` + active.String() + `"`}, {"doc_type", `"resident_id"`}, {"doc_number", `"` + testIDNumber + `"`}, {"password", `"` + staffPass + `"`}}
	routes = append(routes, route{"/v1/self/register", "", selfReg, map[string]string{
		"another's document": with(selfReg, "doc_number", `"330205195612020048"`),
		"no such card":       with(selfReg, "asn", `"31500000000000000598"`),
		"bad asn":            with(selfReg, "asn", `"xyz"`),
		"bad doc type":       with(selfReg, "doc_type", `"library_card"`),
		"short password":     with(selfReg, "password", `"short"`),
	}})
	selfLogin := []kv{{"doc_type", `"resident_id"`}, {"doc_number", `"` + testIDNumber + `"`}, {"password", `"` + staffPass + `"`}}
	routes = append(routes, route{"/v1/self/login", "", selfLogin, map[string]string{
		"no account":   body(selfLogin),
		"bad doc type": with(selfLogin, "doc_type", `"x"`),
	}})
	cards := map[string]int64{active.String(): x.card(t, active).Version, lost.String(): x.card(t, lost).Version, applied.String(): 1}
	n := x.auditLen(t)
	check := func(where string, code int, v map[string]any) {
		t.Helper()
		msg, _ := v["error"].(string)
		if code < 400 || code >= 500 || msg == "" {
			t.Errorf("%s: %d %v, want a 4xx with a message", where, code, v)
		}
	}
	for _, rt := range routes {
		bad := variants(rt.good)
		for k, v := range rt.special {
			bad[k] = v
		}
		for what, b := range bad {
			code, v := x.call(t, "POST", rt.path, rt.who, b)
			check(rt.path+": "+what, code, v)
		}
		// The wrong media type.
		code, raw := x.do(t, "POST", rt.path, x.tokens[rt.who], "text/plain", []byte(body(rt.good)), nil)
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "Content-Type") {
			t.Errorf("%s as text/plain: %d %s", rt.path, code, raw)
		}
	}
	// Bad identifiers in paths, on every route that takes one.
	for _, p := range []string{
		"/v1/cards/3150/" + active.String(), "/v1/cards/" + testIssuer.String() + "/12",
		"/v1/cards/" + testIssuer.String() + "/31500000000000000G01",
	} {
		for _, action := range []string{"", "/issue", "/activate", "/loss", "/unloss", "/damaged", "/replace", "/refund", "/move-balance", "/review", "/expire", "/renew"} {
			method := "POST"
			if action == "" {
				method = "GET"
			}
			code, v := x.call(t, method, p+action, "clerk", "")
			check(method+" "+p+action, code, v)
		}
	}
	for _, p := range []string{"/v1/cardholders/abc", "/v1/cardholders/0", "/v1/cardholders/-1", "/v1/cardholders/99"} {
		code, v := x.call(t, "GET", p, "clerk", "")
		check(p, code, v)
	}
	for _, p := range []string{"/v1/approvals/x", "/v1/approvals/0", "/v1/approvals/99"} {
		code, v := x.call(t, "GET", p, "super", "")
		check(p, code, v)
		code, v = x.call(t, "POST", p+"/approve", "super", "")
		check(p+"/approve", code, v)
	}
	for _, p := range []string{"/v1/staff?limit=0", "/v1/staff?limit=1001", "/v1/staff?limit=x"} {
		code, v := x.call(t, "GET", p, "admin", "")
		check(p, code, v)
	}
	if code, b := x.do(t, "GET", "/v1/staff?limit=2&after=auditor", x.tokens["admin"], "", nil, nil); code != http.StatusOK || !strings.Contains(string(b), `"name":"clerk"`) || strings.Contains(string(b), `"name":"admin"`) || strings.Count(string(b), `"name"`) != 2 {
		t.Errorf("a page of two after auditor: %d %s", code, b)
	}
	for _, p := range []string{"/v1/staff/nobody/disable", "/v1/staff/admin/disable", "/v1/staff/nobody/enable"} {
		code, v := x.call(t, "POST", p, "admin", "")
		check(p, code, v)
	}
	// A card of another state: loss of a lost card, unloss of an active one.
	// A review of a card without one, or not in use; an expiry before
	// the card's last day, or of a card not in use; a renewal of one
	// applied for. A card unknown.
	unknown := asnOf(t, "31500000000000000597")
	for _, p := range []string{cardURL(lost, "loss"), cardURL(active, "unloss"), cardURL(lost, "activate"), cardURL(applied, "damaged"),
		cardURL(active, "review"), cardURL(lost, "review"), cardURL(active, "expire"), cardURL(lost, "expire"), cardURL(applied, "expire"),
		cardURL(applied, "renew"), cardURL(lost, "renew"), cardURL(unknown, "review"), cardURL(unknown, "expire"), cardURL(unknown, "renew")} {
		code, v := x.call(t, "POST", p, "clerk", "")
		check(p, code, v)
	}
	if got := x.auditLen(t); got != n {
		t.Errorf("the audit log has %d records, had %d: a refused request changed something", got, n)
	}
	for asn, v := range cards {
		if got := x.card(t, asnOf(t, asn)).Version; got != v {
			t.Errorf("card %s at version %d, was %d", asn, got, v)
		}
	}
	if l, _ := x.st.List(t.Context(), "", cms.StaffPageMax); len(l) != 6 {
		t.Errorf("%d staff accounts, want the 6 of the fixture", len(l))
	}
}
