package api

import (
	"encoding/json"
	"net/http"
	"testing"
)

// FuzzCardBodies sends arbitrary bodies to the card management routes
// that read one (apply, issue, replace, refund, a cardholder, a staff
// account, the logins): whatever comes, the answer is JSON, never a 5xx
// (a fault of ours), and the audit log's chain still verifies.
func FuzzCardBodies(f *testing.F) {
	x := withCMS(f, newFixture(f))
	x.holder(f)
	active := x.issued(f, "31500000000000000901", 1000)
	lost := x.lost(f, "31500000000000000902")
	paths := []string{"/v1/cards", cardURL(active, "issue"), cardURL(lost, "replace"), cardURL(active, "refund"),
		"/v1/cardholders", "/v1/staff", "/v1/staff/login", "/v1/self/register", "/v1/self/login"}
	for _, seed := range []string{
		`{"issuer":"31500001FFFFFFFF","asn":"31500000000000000903","product":"citizen","holder_id":1}`,
		`{` + cash("k") + `,"load_fen":100}`,
		`{` + cash("k") + `,"new_asn":"31500000000000000904"}`,
		refundBody("k", 0),
		`{"name":"李四","doc_type":"resident_id","doc_number":"330205195612020048","date_of_birth":"1956-12-02","phone":"","school":"","studies_end":""}`,
		`{"name":"dee","role":"clerk","service_point":"p","point_type":"agent","password":"` + staffPass + `"}`,
		`{"key":"\u0000","load_fen":-0}`, `[]`, `{"a":{"b":[1,2,{"c":null}]}}`, `{"holder_id":1e400}`,
	} {
		for i := range paths {
			f.Add(uint8(i), []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		path := paths[int(route)%len(paths)]
		who := "admin"
		code, b := x.do(t, "POST", path, x.tokens[who], "application/json", body, nil)
		if code >= 500 {
			t.Fatalf("POST %s %q: %d %s", path, body, code, b)
		}
		if !json.Valid(b) {
			t.Fatalf("POST %s %q: %d, not JSON: %q", path, body, code, b)
		}
		if code >= 400 && code != http.StatusNotFound {
			var e struct{ Error string }
			if json.Unmarshal(b, &e) != nil || e.Error == "" {
				t.Fatalf("POST %s %q: %d without a message: %s", path, body, code, b)
			}
		}
		x.auditLen(t)
	})
}
