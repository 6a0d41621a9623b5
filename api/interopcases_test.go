package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/interop"
)

// storeAcceptedIncoming stores INC-T1, an INC file of one record of our
// card (300 fen) accepted by our verification: what a case is raised
// about.
func storeAcceptedIncoming(t testing.TB, st interop.Store) {
	t.Helper()
	them := citycard.IssuerCode{0x31, 0x50, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF}
	body := []byte("INC-T1")
	imp := &interop.Import{File: interop.Stored{ID: "INC-T1", Type: interop.FileIncoming, SHA256: interop.Hash(body), Day: interop.Day(interopDay),
		Sender: them, Receiver: interopOwn, Records: 1, AmountFen: 300, Body: body},
		Records: []interop.Rec{{File: "INC-T1", Seq: 1, Issuer: interopOwn, ASN: citycard.ASN{9: 7}, Counter: 3, AmountFen: 300, Acquirer: them.String(),
			State: interop.Accepted, AnsweredBy: "ANS-INC-T1"}},
		At: time.Date(2025, 12, 2, 1, 0, 0, 0, time.UTC)}
	if _, err := st.Import(context.Background(), imp); err != nil {
		t.Fatal(err)
	}
}

// caseShapeRequests are the case routes' requests for TestResponseShapes.
func caseShapeRequests(t *testing.T, x *cmsFix) map[string][]shapeRequest {
	storeAcceptedIncoming(t, x.db.Interop())
	const p = "/v1/clearing/interop"
	return map[string][]shapeRequest{
		"POST " + p + "/cases": {{token: x.tokens["super"], ctype: "application/json",
			body: []byte(`{"ref":"D-1","type":"DSP","ref_file":"INC-T1","ref_seq":1,"direction":"","amount_fen":100,"reason":"cardholder","note":"not me"}`)}},
		"GET " + p + "/cases":                 {{path: p + "/cases?type=DSP&date=2025-12-02", token: x.tokens["auditor"]}},
		"POST " + p + "/exports/{day}/{type}": {{path: p + "/exports/2025-12-01/ERR", token: x.tokens["clerk"]}},
	}
}

// TestInteropCaseRoutes: a supervisor raises a case (a clerk may not),
// who raised it is kept; a retry is the same case; bad input is 422
// naming the field, a second case of the record or another input under
// the ref 409, nothing stored by any; the day's file is exported once
// the day is over (409 before), its header answered.
func TestInteropCaseRoutes(t *testing.T) {
	f := newFixture(t)
	x := withCMS(t, f)
	const p = "/v1/clearing/interop"
	aud, clerk, super := x.tokens["auditor"], x.tokens["clerk"], x.tokens["super"]
	body := `{"ref":"E-1","type":"ERR","ref_file":"INC-T1","ref_seq":1,"direction":"D","amount_fen":40,"reason":"amount","note":"over-charged"}`
	if code, b := f.do(t, "POST", p+"/cases", super, "application/json", []byte(body), nil); code != http.StatusServiceUnavailable {
		t.Errorf("without the interconnection: %d %s, want 503", code, b)
	}
	withInterop(t, x)
	storeAcceptedIncoming(t, x.db.Interop())

	if code, b := f.do(t, "POST", p+"/cases", clerk, "application/json", []byte(body), nil); code != http.StatusForbidden {
		t.Errorf("a clerk raising a case: %d %s, want 403", code, b)
	}
	code, b := f.do(t, "POST", p+"/cases", super, "application/json", []byte(body), nil)
	var c struct {
		interop.CaseView
		Already bool `json:"already"`
	}
	if code != http.StatusCreated || json.Unmarshal(b, &c) != nil || c.Ref != "E-1" || c.Direction != "D" || c.State != "pending" || c.RaisedBy == "" ||
		c.Day != "2025-12-02" || c.File != "ERR-"+interopOwn.String()+"-20251202" || c.Already {
		t.Fatalf("raise: %d %s", code, b)
	}
	if code, b := f.do(t, "POST", p+"/cases", super, "application/json", []byte(body), nil); code != http.StatusOK || !strings.Contains(string(b), `"already":true`) {
		t.Errorf("the same case again: %d %s, want 200 with already true", code, b)
	}
	for name, c := range map[string]struct {
		body string
		code int
		want string
	}{
		"another input":          {strings.Replace(body, `"amount_fen":40`, `"amount_fen":41`, 1), 409, "another input"},
		"a second case":          {strings.Replace(body, `"E-1"`, `"E-2"`, 1), 409, "raised about it before"},
		"a direction X":          {strings.Replace(body, `"D"`, `"X"`, 1), 422, `field \"direction\"`},
		"a dispute with one":     {strings.Replace(strings.Replace(body, `"ERR"`, `"DSP"`, 1), `"E-1"`, `"D-9"`, 1), 422, `field \"direction\"`},
		"a reason unknown":       {strings.Replace(body, `"amount"`, `"amnt"`, 1), 422, `field \"reason\"`},
		"a type OUT":             {strings.Replace(body, `"ERR"`, `"OUT"`, 1), 422, `field \"type\"`},
		"no amount":              {strings.Replace(body, `"amount_fen":40`, `"amount_fen":0`, 1), 422, `field \"amount_fen\"`},
		"an unknown field":       {strings.Replace(body, `"note"`, `"notes"`, 1), 422, `unknown field \"notes\"`},
		"no such record":         {strings.Replace(strings.Replace(body, `"ref_seq":1`, `"ref_seq":2`, 1), `"E-1"`, `"E-3"`, 1), 404, "holds 1 records"},
		"no such file":           {strings.Replace(strings.Replace(body, `"INC-T1"`, `"INC-T9"`, 1), `"E-1"`, `"E-4"`, 1), 404, "no OUT or INC file"},
		"an OUT file not stored": {strings.Replace(strings.Replace(body, `"ref_file":"INC-T1"`, `"ref_file":"OUT-1"`, 1), `"E-1"`, `"E-5"`, 1), 404, "no OUT or INC file"},
	} {
		code, b := f.do(t, "POST", p+"/cases", super, "application/json", []byte(c.body), nil)
		if code != c.code || !strings.Contains(string(b), c.want) {
			t.Errorf("%s: %d %s, want %d naming %s", name, code, b, c.code, c.want)
		}
	}
	// The body's limit: at it (whitespace pads valid JSON), a case; past
	// it, refused.
	pad := func(body string, n int) []byte { return []byte(body + strings.Repeat(" ", n-len(body))) }
	dsp := `{"ref":"D-1","type":"DSP","ref_file":"INC-T1","ref_seq":1,"direction":"","amount_fen":10,"reason":"cardholder","note":""}`
	if code, b := f.do(t, "POST", p+"/cases", super, "application/json", pad(dsp, maxCaseBody+1), nil); code != 422 || !strings.Contains(string(b), "too large") {
		t.Errorf("a body past %d bytes: %d %s, want 422", maxCaseBody, code, b)
	}
	if code, b := f.do(t, "POST", p+"/cases", super, "application/json", pad(dsp, maxCaseBody), nil); code != http.StatusCreated {
		t.Errorf("a body of %d bytes: %d %s, want 201", maxCaseBody, code, b)
	}
	code, b = f.do(t, "GET", p+"/cases?type=err&date=2025-12-02", aud, "", nil, nil)
	var list interopCasesJSON
	if code != http.StatusOK || json.Unmarshal(b, &list) != nil || len(list.Cases) != 1 || list.Cases[0].Ref != "E-1" {
		t.Fatalf("the day's cases: %d %s, want E-1 alone", code, b)
	}
	for _, q := range []string{"?type=OUT&date=2025-12-02", "?type=ERR", "?type=ERR&date=2025-12-02&x=1"} {
		if code, b := f.do(t, "GET", p+"/cases"+q, aud, "", nil, nil); code != 422 {
			t.Errorf("cases%s: %d %s, want 422", q, code, b)
		}
	}
	if code, b := f.do(t, "POST", p+"/exports/2025-12-02/ERR", clerk, "", nil, nil); code != http.StatusConflict || !strings.Contains(string(b), "not over") {
		t.Errorf("the ERR file of a day not over: %d %s, want 409", code, b)
	}
	if code, b := f.do(t, "POST", p+"/exports/2025-12-01/BLK", clerk, "", nil, nil); code != 422 {
		t.Errorf("an export of type BLK: %d %s, want 422", code, b)
	}
	code, b = f.do(t, "POST", p+"/exports/2025-12-01/DSP", clerk, "", nil, nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"id":"DSP-`+interopOwn.String()+`-20251201"`) || !strings.Contains(string(b), `"records":0`) {
		t.Errorf("the DSP file of a day over, without cases: %d %s", code, b)
	}
}
