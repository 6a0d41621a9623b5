package api

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
	"github.com/citycard/citycard/interop"
)

// interopOwn is the institution the interconnection routes' tests are:
// the receiver of interop/testdata's files.
var interopOwn = citycard.IssuerCode{0x20, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFF}

// interopDay is the closed cycle whose OUT file the tests export.
var interopDay = clearing.DayOf(2025, 12, 1)

// exportingInterop is the interconnection over a real store, with an
// Export that stores interop/testdata/out.txt as the OUT file of
// interopDay (as interop.Export would store it; interop's storage suite
// tests Export from a closed cycle itself) and finds no other cycle.
type exportingInterop struct {
	Interconnection
	store interop.Store
	out   []byte
}

func (e exportingInterop) Export(ctx context.Context, d clearing.Day) ([]byte, error) {
	if d != interopDay {
		return nil, citycard.E("test.Export", citycard.NotFound, "no cycle of %v", d)
	}
	f, err := interop.Decode("out", e.out)
	if err != nil {
		return nil, err
	}
	imp := &interop.Import{File: interop.StoredOf(f, e.out, true), At: time.Date(2025, 12, 2, 4, 0, 0, 0, time.UTC)}
	for i, c := range f.Clearing {
		imp.Records = append(imp.Records, interop.Rec{File: f.Header.ID, Seq: i + 1, Out: true, Issuer: c.Issuer, ASN: c.ASN, Counter: c.Counter,
			AmountFen: int64(c.AmountFen), Acquirer: "nb-bus", State: interop.Pending})
	}
	if _, err := e.store.Import(ctx, imp); err != nil {
		return nil, err
	}
	return e.out, nil
}

func interopFile(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../interop/testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// withInterop serves the interconnection over x's store.
func withInterop(t testing.TB, x *cmsFix) {
	t.Helper()
	st := x.db.Interop()
	ix := &interop.Interop{Own: interopOwn, Store: st, Now: func() time.Time { return time.Date(2025, 12, 2, 3, 0, 0, 0, time.UTC) }}
	x.s.Interop = exportingInterop{InteropOver(ix), st, interopFile(t, "out.txt")}
}

// interopShapeRequests are the interconnection routes' requests for
// TestResponseShapes: the CTY file imported, the OUT file exported.
func interopShapeRequests(t *testing.T, x *cmsFix) map[string][]shapeRequest {
	withInterop(t, x)
	if _, err := x.s.Interop.Export(context.Background(), interopDay); err != nil { // the routes are called in routes.go's order
		t.Fatal(err)
	}
	const p = "/v1/clearing/interop"
	return map[string][]shapeRequest{
		"POST " + p + "/exports/{day}":     {{path: p + "/exports/2025-12-01", token: x.tokens["clerk"]}},
		"POST " + p + "/files":             {{token: x.tokens["super"], ctype: "text/plain", body: interopFile(t, "cty.txt")}},
		"GET " + p + "/files":              {{token: x.tokens["auditor"]}, {path: p + "/files?limit=1", token: x.tokens["auditor"]}},
		"GET " + p + "/files/{id}":         {{path: p + "/files/CTY-1", token: x.tokens["auditor"]}},
		"GET " + p + "/files/{id}/body":    {{path: p + "/files/OUT-1/body", token: x.tokens["auditor"]}},
		"GET " + p + "/files/{id}/records": {{path: p + "/files/OUT-1/records", token: x.tokens["auditor"]}},
		"GET " + p + "/cities":             {{path: p + "/cities?date=2025-12-31", token: x.tokens["auditor"]}},
	}
}

// TestInteropRoutes: every interconnection route, its success and its
// bad input, each refused 4xx naming what and where with nothing
// changed.
func TestInteropRoutes(t *testing.T) {
	f := newFixture(t)
	x := withCMS(t, f)
	const p = "/v1/clearing/interop"
	aud, clerk, super := x.tokens["auditor"], x.tokens["clerk"], x.tokens["super"]
	call := func(t *testing.T, method, path, token, ctype string, body []byte) (int, string) {
		t.Helper()
		code, b := f.do(t, method, path, token, ctype, body, nil)
		return code, string(b)
	}
	// Not served: 503, for every route.
	for _, path := range []string{p + "/files", p + "/files/CTY-1", p + "/files/CTY-1/body", p + "/files/CTY-1/records", p + "/cities?date=2025-12-31"} {
		if code, body := call(t, "GET", path, aud, "", nil); code != http.StatusServiceUnavailable {
			t.Errorf("GET %s without the interconnection: %d %s, want 503", path, code, body)
		}
	}
	if code, _ := call(t, "POST", p+"/files", super, "text/plain", interopFile(t, "cty.txt")); code != http.StatusServiceUnavailable {
		t.Errorf("import without the interconnection: %d, want 503", code)
	}
	withInterop(t, x)
	files := func(t *testing.T) int {
		t.Helper()
		code, body := call(t, "GET", p+"/files", aud, "", nil)
		var v interopFilesJSON
		if code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil {
			t.Fatalf("files: %d %s", code, body)
		}
		return len(v.Files)
	}

	cty := interopFile(t, "cty.txt")
	t.Run("import", func(t *testing.T) {
		corrupt := bytes.Replace(cty, []byte("|ADD|"), []byte("|ADX|"), 1)
		lines := strings.SplitAfter(string(cty), "\n")
		truncated := []byte(strings.Join(lines[:len(lines)-2], "")) // no trailer
		changed := bytes.Replace(cty, []byte("Beijing"), []byte("Beijinh"), 1)
		for name, c := range map[string]struct {
			token, ctype, query string
			body                []byte
			code                int
			want                string
		}{
			"a field":            {super, "text/plain", "?name=cty.txt", corrupt, 422, "file cty.txt line 2 field action"},
			"truncated":          {super, "text/plain", "", truncated, 422, "file upload line 4 field record: no trailer"},
			"a changed name":     {super, "text/plain", "", changed, 422, "field sha256"},
			"empty":              {super, "text/plain", "", nil, 422, "file upload"},
			"not text":           {super, "application/json", "", cty, 422, "Content-Type"},
			"a charset":          {super, "text/plain; charset=latin1", "", cty, 422, "Content-Type"},
			"no content type":    {super, "", "", cty, 422, "Content-Type"},
			"an unknown query":   {super, "text/plain", "?force=1", cty, 422, `query \"force\"`},
			"a long name":        {super, "text/plain", "?name=" + strings.Repeat("n", 129), cty, 422, "at most 128"},
			"a clerk":            {clerk, "text/plain", "", cty, 403, ""},
			"an OUT file":        {super, "text/plain", "", interopFile(t, "out.txt"), 422, "type"},
			"another's receiver": {super, "text/plain", "", reencoded(t, cty, func(f *interop.File) { f.Header.Receiver[3] = 2 }), 422, "line 1 field receiver"},
		} {
			code, body := call(t, "POST", p+"/files"+c.query, c.token, c.ctype, c.body)
			if code != c.code || !strings.Contains(body, c.want) {
				t.Errorf("%s: %d %s, want %d naming %q", name, code, body, c.code, c.want)
			}
		}
		if n := files(t); n != 0 {
			t.Fatalf("%d files stored after the refusals, want none", n)
		}
		// Over the body's bound: refused before it is read whole.
		x.s.interopBytesMax = int64(len(cty)) - 1
		if code, body := call(t, "POST", p+"/files", super, "text/plain", cty); code != 422 || !strings.Contains(body, "too large") {
			t.Errorf("a file over the bound: %d %s, want 422", code, body)
		}
		x.s.interopBytesMax = int64(len(cty)) // the boundary: taken
		code, body := call(t, "POST", p+"/files", super, "text/plain", cty)
		var imp interopImportedJSON
		if code != http.StatusCreated || json.Unmarshal([]byte(body), &imp) != nil || imp.Already || imp.File.ID != "CTY-1" || imp.File.Records != 2 {
			t.Fatalf("import: %d %s, want 201 with CTY-1", code, body)
		}
		x.s.interopBytesMax = 0
		code, body = call(t, "POST", p+"/files", super, "text/plain", cty)
		if code != http.StatusOK || json.Unmarshal([]byte(body), &imp) != nil || !imp.Already {
			t.Fatalf("the same file again: %d %s, want 200 already", code, body)
		}
		if n := files(t); n != 1 {
			t.Errorf("%d files after importing one twice, want 1", n)
		}
		if code, body := call(t, "POST", p+"/files", super, "text/plain", changedID(t, cty)); code != http.StatusConflict {
			t.Errorf("another file under a stored ID: %d %s, want 409", code, body)
		}
	})

	t.Run("export", func(t *testing.T) {
		for name, c := range map[string]struct {
			path, token string
			body        []byte
			code        int
			want        string
		}{
			"a bad day":    {p + "/exports/2025-13-01", clerk, nil, 422, "day"},
			"a body":       {p + "/exports/2025-12-01", clerk, []byte("x"), 422, "no body"},
			"a query":      {p + "/exports/2025-12-01?again=1", clerk, nil, 422, "no query"},
			"no cycle":     {p + "/exports/2025-12-02", clerk, nil, 404, "no cycle"},
			"an auditor":   {p + "/exports/2025-12-01", aud, nil, 403, ""},
			"the same day": {p + "/exports/2025-12-01", clerk, nil, 200, `"id":"OUT-1"`},
		} {
			code, body := call(t, "POST", c.path, c.token, "", c.body)
			if code != c.code || !strings.Contains(body, c.want) {
				t.Errorf("%s: %d %s, want %d naming %q", name, code, body, c.code, c.want)
			}
		}
		code, body := call(t, "POST", p+"/exports/2025-12-01", clerk, "", nil)
		if code != http.StatusOK || !strings.Contains(body, `"direction":"sent"`) || !strings.Contains(body, `"amount_fen":200`) {
			t.Errorf("export again: %d %s, want the same file", code, body)
		}
		code, body = call(t, "GET", p+"/files/OUT-1/body", aud, "", nil)
		if code != http.StatusOK || body != string(interopFile(t, "out.txt")) {
			t.Errorf("the OUT file's bytes: %d %q", code, body)
		}
	})

	t.Run("files", func(t *testing.T) {
		code, body := call(t, "GET", p+"/files?limit=1", aud, "", nil)
		var page interopFilesJSON
		if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil || len(page.Files) != 1 || page.Files[0].ID != "CTY-1" || page.Next != "CTY-1" {
			t.Fatalf("first page of one: %d %s", code, body)
		}
		code, body = call(t, "GET", p+"/files?limit=1&after=CTY-1", aud, "", nil)
		page = interopFilesJSON{}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil || len(page.Files) != 1 || page.Files[0].ID != "OUT-1" || page.Next != "" {
			t.Fatalf("last page: %d %s", code, body)
		}
		code, body = call(t, "GET", p+"/files/CTY-1", aud, "", nil)
		var h interop.FileView
		if code != http.StatusOK || json.Unmarshal([]byte(body), &h) != nil || h.Type != "CTY" || h.Direction != "received" || h.Records != 2 || h.Day != "2025-12-01" || h.SHA256 != interop.Hash(cty) {
			t.Errorf("file CTY-1: %d %s", code, body)
		}
		for _, c := range []struct {
			path string
			code int
			want string
		}{
			{p + "/files?limit=0", 422, "limit"},
			{p + "/files?limit=101", 422, "1 to 100"},
			{p + "/files?limit=x", 422, "limit"},
			{p + "/files?after=NOPE", 404, "NOPE"},
			{p + "/files?sort=id", 422, "sort"},
			{p + "/files/NOPE", 404, ""},
			{p + "/files/CTY-1?x=1", 422, "query"},
			{p + "/files/NOPE/body", 404, ""},
			{p + "/files/NOPE/records", 404, ""},
		} {
			if code, body := call(t, "GET", c.path, aud, "", nil); code != c.code || !strings.Contains(body, c.want) {
				t.Errorf("GET %s: %d %s, want %d naming %q", c.path, code, body, c.code, c.want)
			}
		}
	})

	t.Run("records", func(t *testing.T) {
		var page interopRecordsJSON
		code, body := call(t, "GET", p+"/files/OUT-1/records?limit=1", aud, "", nil)
		if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil || len(page.Records) != 1 || page.Records[0].Seq != 1 || page.Next != 1 || page.Records[0].State != "pending" {
			t.Fatalf("first page: %d %s", code, body)
		}
		code, body = call(t, "GET", p+"/files/OUT-1/records?after=1", aud, "", nil)
		page = interopRecordsJSON{}
		if code != http.StatusOK || json.Unmarshal([]byte(body), &page) != nil || len(page.Records) != 1 || page.Records[0].Seq != 2 || page.Next != 0 {
			t.Fatalf("after 1: %d %s", code, body)
		}
		for _, c := range []struct {
			path string
			code int
			want string
		}{
			{p + "/files/OUT-1/records?limit=501", 422, "1 to 500"},
			{p + "/files/OUT-1/records?limit=0", 422, "limit"},
			{p + "/files/OUT-1/records?after=-1", 422, "after"},
			{p + "/files/OUT-1/records?after=2097153", 422, "after"},
			{p + "/files/OUT-1/records?seq=1", 422, "seq"},
			{p + "/files/CTY-1/records", 422, "only OUT and INC"},
		} {
			if code, body := call(t, "GET", c.path, aud, "", nil); code != c.code || !strings.Contains(body, c.want) {
				t.Errorf("GET %s: %d %s, want %d naming %q", c.path, code, body, c.code, c.want)
			}
		}
	})

	t.Run("cities", func(t *testing.T) {
		// Shanghai (2000) joins on 2025-12-31; Beijing (1000) was never added.
		for date, want := range map[string]int{"2025-12-30": 0, "2025-12-31": 1} {
			code, body := call(t, "GET", p+"/cities?date="+date, aud, "", nil)
			var v interopCitiesJSON
			if code != http.StatusOK || json.Unmarshal([]byte(body), &v) != nil || len(v.Cities) != want || (want == 1 && v.Cities[0].City != "2000") {
				t.Errorf("cities on %s: %d %s, want %d", date, code, body, want)
			}
		}
		for _, q := range []string{"", "?date=", "?date=2025-02-30", "?date=20251231", "?date=2025-12-31&x=1"} {
			if code, body := call(t, "GET", p+"/cities"+q, aud, "", nil); code != 422 {
				t.Errorf("cities%s: %d %s, want 422", q, code, body)
			}
		}
	})

	t.Run("an INC file without our keys", func(t *testing.T) {
		inc := interopFile(t, "out.txt")
		f, err := interop.Decode("inc", inc)
		if err != nil {
			t.Fatal(err)
		}
		f.Header.Type, f.Header.ID = interop.FileIncoming, "INC-1"
		b, err := interop.Encode(f)
		if err != nil {
			t.Fatal(err)
		}
		code, body := call(t, "POST", p+"/files", super, "text/plain", b)
		if code != http.StatusServiceUnavailable {
			t.Errorf("INC file: %d %s, want 503", code, body)
		}
		if _, err := x.db.Interop().File(context.Background(), "INC-1"); !citycard.IsKind(err, citycard.NotFound) {
			t.Errorf("INC-1 stored: %v", err)
		}
	})
}

// changedID returns CTY file b with one record's name changed, encoded
// again (a valid file) under its own ID.
func changedID(t *testing.T, b []byte) []byte {
	t.Helper()
	return reencoded(t, b, func(f *interop.File) { f.Cities[1].Name = "Peking" })
}

// reencoded returns file b decoded, changed by edit and encoded again.
func reencoded(t *testing.T, b []byte, edit func(f *interop.File)) []byte {
	t.Helper()
	f, err := interop.Decode("file", b)
	if err != nil {
		t.Fatal(err)
	}
	edit(f)
	out, err := interop.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
