package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/fare"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/terminal"
)

var (
	snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	upperHex  = regexp.MustCompile(`^([0-9A-F]{2})+$`)
)

// identifierDigits are the keys that name an identifier, and the hex
// digits each may have.
var identifierDigits = map[string][]int{
	"issuer":      {16},
	"asn":         {16, 20},
	"terminal":    {12},
	"terminal_id": {12},
	"psam":        {20},
	"psam_id":     {20},
}

// checkShape walks a decoded JSON value: every key snake_case, every
// identifier a hex string of its length, no base64 string and no array
// of bytes anywhere.
func checkShape(t *testing.T, where string, v any) {
	t.Helper()
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if !snakeCase.MatchString(k) {
				t.Errorf("%s: key %q is not snake_case", where, k)
			}
			if digits, ok := identifierDigits[k]; ok {
				s, isString := x.(string)
				if !isString || !upperHex.MatchString(s) || !slicesContains(digits, len(s)) {
					t.Errorf("%s.%s: %#v, want %v hex digits", where, k, x, digits)
				}
			}
			checkShape(t, where+"."+k, x)
		}
	case []any:
		bytes := len(v) >= 6
		for i, x := range v {
			if n, ok := x.(float64); !ok || n != math.Trunc(n) || n < 0 || n > 255 {
				bytes = false
			}
			checkShape(t, fmt.Sprintf("%s[%d]", where, i), x)
		}
		if bytes {
			t.Errorf("%s: %v looks like a byte array", where, v)
		}
	case string:
		if strings.HasSuffix(v, "=") {
			if _, err := base64.StdEncoding.DecodeString(v); err == nil {
				t.Errorf("%s: %q looks like base64", where, v)
			}
		}
	}
}

func slicesContains(s []int, n int) bool {
	for _, x := range s {
		if x == n {
			return true
		}
	}
	return false
}

// shapeRequest is a request that succeeds on a route.
type shapeRequest struct {
	path   string // with the query; "" for the route's pattern filled in
	token  string
	ctype  string
	body   []byte
	hdr    map[string]string
	verify func(t *testing.T, v any) // more checks on the decoded answer
}

// TestResponseShapes: every route's answer, and its error answer, speaks
// the domain: snake_case keys, identifiers as the hex strings requests
// use, no Go field names, no byte arrays.
func TestResponseShapes(t *testing.T) {
	f := newFixture(t)
	x := withCMS(t, f)
	ctx := context.Background()
	op := f.staff + "-operator"
	u := f.ups[0]
	tid := u.Terminal.ID.String()
	tok := f.toks[u.Terminal.ID]
	// The state every answer shows: a batch with a forged record (a
	// rejection), a blacklist with a listing and a delisting.
	forged := append([]byte(nil), u.Records[1]...)
	forged[36] ^= 1
	recs := [][]byte{u.Records[0], forged}
	if _, err := f.client(0).Upload(ctx, terminal.UploadBatch{Terminal: u.Terminal.ID, ID: "b1", Records: recs, AmountFen: sum(recs)}); err != nil {
		t.Fatal(err)
	}
	r0, _ := record.DecodeBinary(u.Records[0])
	listed := []blacklist.Card{{Issuer: sim.Issuer, ASN: citycard.ASN{9: 1}}, {Issuer: sim.Issuer, ASN: citycard.ASN{0, 0, 0x31, 0x50, 9: 2}}}
	for _, c := range listed {
		if _, err := f.bl.Set(ctx, c, true, "lost", "ann"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.bl.Set(ctx, listed[0], false, "found", "ann"); err != nil {
		t.Fatal(err)
	}
	var js []json.RawMessage
	for _, raw := range u.Records[2:4] {
		r, _ := record.DecodeBinary(raw)
		b, _ := json.Marshal(r)
		js = append(js, b)
	}
	jsonBatch, _ := json.Marshal(map[string]any{"batch_id": "j1", "count": len(js), "amount_fen": sum(u.Records[2:4]), "records": js})

	sample, err := fare.Load(os.DirFS("../fare/testdata/ningbo"))
	if err != nil {
		t.Fatal(err)
	}
	f.s.Replays = &Replays{Journal: f.j, Feeds: feedMap{"sample": sample}}
	// The clearing routes: a closed cycle of 2026-12-01 (the routes'
	// test day), and 2026-12-02 moved by the POSTs, reviewed by one
	// supervisor and approved by another.
	fc := newFakeClearing()
	f.s.Clearing = fc
	d1 := clearing.DayOf(2026, 12, 1)
	for _, step := range []func(context.Context, clearing.Day, string) (*clearing.Stored, error){fc.Run, fc.Review} {
		if _, err := step(ctx, d1, "bob"); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []func(context.Context, clearing.Day, string) (*clearing.Stored, error){fc.ApproveReviewed, fc.Close} {
		if _, err := step(ctx, d1, "carl"); err != nil {
			t.Fatal(err)
		}
	}
	const d2 = "/v1/clearing/cycles/2026-12-02"
	loadBody, confirmBody := shapeLoads(t, f, u.Terminal.ID)
	requests := map[string][]shapeRequest{
		"POST /v1/terminals/{terminal}/loads":              {{token: tok, ctype: "application/json", body: loadBody}},
		"POST /v1/terminals/{terminal}/loads/confirm":      {{token: tok, ctype: "application/json", body: confirmBody}},
		"GET /v1/clearing/cycles":                          {{token: f.staff}},
		"GET /v1/clearing/cycles/{day}":                    {{token: f.staff}},
		"POST /v1/clearing/cycles/{day}/run":               {{path: d2 + "/run", token: x.tokens["super"]}},
		"POST /v1/clearing/cycles/{day}/review":            {{path: d2 + "/review", token: x.tokens["super"]}},
		"POST /v1/clearing/cycles/{day}/approve":           {{path: d2 + "/approve", token: x.tokens["super2"]}},
		"POST /v1/clearing/cycles/{day}/close":             {{path: d2 + "/close", token: x.tokens["super"]}},
		"GET /v1/clearing/cycles/{day}/files/{file}":       {{token: f.staff}},
		"GET /v1/clearing/cycles/{day}/statements/{party}": {{token: f.staff}},
		"POST /v1/terminals/{terminal}/batches": {
			{token: tok, ctype: "application/octet-stream", body: u.Records[4], hdr: map[string]string{
				HeaderBatchID: "b2", HeaderCount: "1", HeaderAmount: strconv.Itoa(int(amountOf(u.Records[4])))}},
			{token: tok, ctype: "application/json", body: jsonBatch},
		},
		"GET /v1/terminals/{terminal}/blacklist": {
			{path: "/v1/terminals/" + tid + "/blacklist?since=0", token: tok},
			{path: "/v1/terminals/" + tid + "/blacklist?since=1", token: tok},
		},
		"GET /v1/terminals/{terminal}/parameters": {{token: tok, verify: func(t *testing.T, v any) {
			if kv := v.(map[string]any)["key_versions"]; !reflect.DeepEqual(kv, []any{2.0, 1.0}) {
				t.Errorf("key_versions %#v, want [2,1]", kv)
			}
		}}},
		"GET /v1/rejections": {{token: f.staff}},
		"POST /v1/rejections/{pos}/resubmit": {{path: "/v1/rejections/1/resubmit", token: op, verify: func(t *testing.T, v any) {
			m := v.(map[string]any)
			if m["by"] == "" || m["rejection_pos"] != 1.0 || m["answer"].(map[string]any)["rejected"] != 1.0 {
				t.Errorf("resubmission of a forgery: %v", m)
			}
		}}},
		"GET /v1/cards/{issuer}/{asn}/shadow": {{path: "/v1/cards/" + r0.Issuer.String() + "/" + r0.ASN.String() + "/shadow", token: f.staff}},
		"GET /v1/batches/{terminal}/{batch}": {{path: "/v1/batches/" + tid + "/b1", token: f.staff, verify: func(t *testing.T, v any) {
			// The record inside is the record's own JSON form.
			b, _ := json.Marshal(r0)
			var want any
			json.Unmarshal(b, &want)
			if got := v.([]any)[0].(map[string]any)["record"]; !reflect.DeepEqual(got, want) {
				t.Errorf("record %v, want %v", got, want)
			}
		}}},
		"GET /v1/blacklist": {{token: f.staff}},
		"GET /v1/fares/replay": {{path: "/v1/fares/replay?from=2026-11-24&to=2026-11-24&feed=sample", token: f.staff, verify: func(t *testing.T, v any) {
			if m := v.(map[string]any); m["from"] != "2026-11-24" || m["new_fare_version"] == "" || len(m["by_hour"].([]any)) != 24 {
				t.Errorf("fare replay: %v", m)
			}
		}}},
		"POST /v1/blacklist": {{token: op, ctype: "application/json",
			body: []byte(`{"issuer":"31500001FFFFFFFF","asn":"3150000012345678","listed":true,"reason":"reported lost"}`)}},
		"GET /healthz": {{}},
		"GET /metrics": {{}},
	}
	for k, v := range cmsShapeRequests(t, x) {
		requests[k] = v
	}
	for k, v := range appShapeRequests(t, x) {
		requests[k] = v
	}
	for k, v := range reconShapeRequests(t, x) {
		requests[k] = v
	}
	for k, v := range interopShapeRequests(t, x) {
		requests[k] = v
	}
	for k, v := range caseShapeRequests(t, x) {
		requests[k] = v
	}
	for k, v := range paramsShapeRequests(x) {
		requests[k] = v
	}
	for k, v := range topUpShapeRequests(t, x) {
		requests[k] = v
	}
	for k, v := range phoneShapeRequests(t, x) {
		requests[k] = v
	}
	for _, rt := range declaredRoutes(t) {
		reqs, ok := requests[rt.pattern]
		if !ok {
			t.Errorf("route %s: no request to check its answer", rt.pattern)
			continue
		}
		delete(requests, rt.pattern)
		method, path := routePath(t, rt.pattern, u.Terminal.ID)
		if rt.guard != "public" {
			reqs = append(reqs, shapeRequest{}) // no token: the error answer
		}
		for i, q := range reqs {
			where := fmt.Sprintf("%s #%d", rt.pattern, i)
			p := path
			if q.path != "" {
				p = q.path
			}
			req, _ := http.NewRequest(method, f.srv.URL+p, strings.NewReader(string(q.body)))
			if q.token != "" {
				req.Header.Set("Authorization", "Bearer "+q.token)
			}
			if q.ctype != "" {
				req.Header.Set("Content-Type", q.ctype)
			}
			for k, v := range q.hdr {
				req.Header.Set(k, v)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var v any
			ct := resp.Header.Get("Content-Type")
			if rt.pattern == "GET /metrics" || (rt.pattern == "GET /v1/clearing/interop/files/{id}/body" && q.token != "") {
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "text/plain") {
					t.Errorf("%s: %d %s", where, resp.StatusCode, ct)
				}
				continue
			}
			derr := json.NewDecoder(resp.Body).Decode(&v)
			resp.Body.Close()
			if wantOK := q.token != "" || rt.guard == "public"; wantOK != (resp.StatusCode/100 == 2) || ct != "application/json" || derr != nil {
				t.Errorf("%s: %d %s %v", where, resp.StatusCode, ct, derr)
				continue
			}
			if rt.pattern != "GET /v1/openapi.json" { // OpenAPI's own keys (TestOpenAPI checks it)
				checkShape(t, where, v)
			}
			if q.verify != nil {
				q.verify(t, v)
			}
		}
	}
	for p := range requests {
		t.Errorf("a request for %s, which routes.go does not declare", p)
	}
}

// TestDeltaJSON: a delta survives its JSON form, and the client refuses
// an answer that would empty or corrupt a terminal's list.
func TestDeltaJSON(t *testing.T) {
	at := time.Date(2026, 11, 24, 7, 30, 5, 0, time.UTC)
	a := blacklist.Card{Issuer: sim.Issuer, ASN: citycard.ASN{9: 1}}
	b := blacklist.Card{Issuer: sim.Issuer, ASN: citycard.ASN{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	for _, d := range []blacklist.Delta{
		{Version: 2, Full: true, Cards: []blacklist.Card{a, b}},
		{Version: 0, Full: true, Cards: []blacklist.Card{}},
		{Version: 4, Changes: []blacklist.Change{{Version: 3, Card: a, Added: true, Reason: "lost", By: "ann", At: at}, {Version: 4, Card: b, Reason: "found", By: "bob", At: at}}},
		{Version: 4, Changes: []blacklist.Change{}},
	} {
		js, err := json.Marshal(newDeltaJSON(d, true))
		if err != nil {
			t.Fatal(err)
		}
		var j deltaJSON
		if err := json.Unmarshal(js, &j); err != nil {
			t.Fatal(err)
		}
		got, err := j.delta()
		if err != nil || !reflect.DeepEqual(got, d) {
			t.Fatalf("%s: %+v %v, want %+v", js, got, err, d)
		}
	}
	for _, js := range []string{
		`{"version":2,"full":true}`,
		`{"version":2,"full":true,"cards":null}`,
		`{"version":2,"full":false}`,
		`{"version":2,"full":true,"cards":[{"issuer":"3150","asn":"0000000000000001"}]}`,
		`{"version":2,"full":true,"cards":[{"issuer":"31500001FFFFFFFF","asn":"AQ=="}]}`,
		`{"version":2,"full":false,"changes":[{"version":2,"issuer":"31500001FFFFFFFF","asn":"0000000000000001","listed":true,"at":"yesterday"}]}`,
	} {
		var j deltaJSON
		if err := json.Unmarshal([]byte(js), &j); err != nil {
			t.Fatal(err)
		}
		if _, err := j.delta(); !citycard.IsKind(err, citycard.Invalid) {
			t.Fatalf("%s: %v", js, err)
		}
	}
	// The client hears it as a fault of the server's, so the terminal
	// keeps its copy and asks again.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"version":9,"full":true}`))
	}))
	defer srv.Close()
	if _, err := (&Client{BaseURL: srv.URL}).Blacklist(context.Background(), 0); !citycard.IsKind(err, citycard.IO) {
		t.Fatalf("a full list without cards: %v", err)
	}
}
