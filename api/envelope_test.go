package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
)

// jsonBatchOf is the JSON form of a batch of u's records, as a terminal
// without the binary layout sends it.
func jsonBatchOf(t *testing.T, id string, recs [][]byte) []byte {
	t.Helper()
	var js []json.RawMessage
	for _, raw := range recs {
		r, err := record.DecodeBinary(raw)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(r)
		js = append(js, b)
	}
	b, _ := json.Marshal(map[string]any{"batch_id": id, "count": len(js), "amount_fen": sum(recs), "records": js})
	return b
}

// TestUploadMediaType: a batch is application/json (with at most a
// charset=utf-8) or application/octet-stream, exactly.
func TestUploadMediaType(t *testing.T) {
	f := newFixture(t)
	u := f.ups[0]
	path := "/v1/terminals/" + u.Terminal.ID.String() + "/batches"
	tok := f.toks[u.Terminal.ID]
	for i, c := range []struct {
		ctype string
		ok    bool
	}{
		{"application/json", true},
		{"application/json; charset=utf-8", true},
		{"Application/JSON;charset=UTF-8", true},
		{"application/jsonx", false},
		{"application/json-seq", false},
		{"application/json; charset=latin1", false},
		{"application/json; profile=x", false},
		{"application/json; charset=utf-16", false},
		{"text/json", false},
		{"", false},
	} {
		code, out := f.do(t, "POST", path, tok, c.ctype, jsonBatchOf(t, "j"+strconv.Itoa(i), u.Records[i:i+1]), nil)
		if (code == http.StatusOK) != c.ok || (!c.ok && code != http.StatusUnprocessableEntity) {
			t.Fatalf("Content-Type %q: %d %s", c.ctype, code, out)
		}
	}
	for i, c := range []struct {
		ctype string
		ok    bool
	}{
		{"application/octet-stream", true},
		{"application/octet-streamx", false},
		{"application/octet-stream; charset=utf-8", false},
		{"application/octet", false},
	} {
		rec := u.Records[20+i]
		hdr := map[string]string{HeaderBatchID: "b" + strconv.Itoa(i), HeaderCount: "1", HeaderAmount: strconv.Itoa(int(amountOf(rec)))}
		code, out := f.do(t, "POST", path, tok, c.ctype, rec, hdr)
		if (code == http.StatusOK) != c.ok || (!c.ok && code != http.StatusUnprocessableEntity) {
			t.Fatalf("Content-Type %q: %d %s", c.ctype, code, out)
		}
	}
}

// TestBatchEnvelopeStrict: exactly one object, each key once and spelled
// exactly, nothing after it; a refused batch journals nothing.
func TestBatchEnvelopeStrict(t *testing.T) {
	f := newFixture(t)
	u := f.ups[0]
	path := "/v1/terminals/" + u.Terminal.ID.String() + "/batches"
	tok := f.toks[u.Terminal.ID]
	good := string(jsonBatchOf(t, "e", u.Records[:2]))
	rec0 := string(jsonBatchOf(t, "e", u.Records[:1]))
	rec0 = rec0[strings.Index(rec0, `"records":[`)+len(`"records":[`) : len(rec0)-2]
	amount := strconv.FormatInt(sum(u.Records[:1]), 10)
	one := func(fields string) string { return `{` + fields + `}` }
	valid := `"batch_id":"e","count":1,"amount_fen":` + amount + `,"records":[` + rec0 + `]`
	for _, c := range []struct{ name, body, want string }{
		{"trailing data", good + "x", "after the object"},
		{"a second object", good + good, "after the object"},
		{"a second value", good + " 1", "after the object"},
		{"an array", "[" + good + "]", "want a JSON object"},
		{"nothing", "", "JSON"},
		{"a duplicate key", one(valid + `,"count":1`), `"count" given twice`},
		{"a duplicate batch ID", one(`"batch_id":"x",` + valid), `"batch_id" given twice`},
		{"a key in another case", one(strings.Replace(valid, `"batch_id"`, `"Batch_ID"`, 1)), `"Batch_ID"`},
		{"a key in capitals", one(strings.Replace(valid, `"count"`, `"COUNT"`, 1)), `"COUNT"`},
		{"an unknown key", one(valid + `,"note":"x"`), `unknown field "note"`},
		{"a missing key", one(strings.Replace(valid, `"batch_id":"e",`, "", 1)), `"batch_id" missing`},
		{"a string count", one(strings.Replace(valid, `"count":1`, `"count":"1"`, 1)), `"count"`},
		{"a fractional count", one(strings.Replace(valid, `"count":1`, `"count":1.0`, 1)), `"count"`},
		{"an exponent", one(strings.Replace(valid, `"count":1`, `"count":1e0`, 1)), `"count"`},
		{"a negative count", one(strings.Replace(valid, `"count":1`, `"count":-1`, 1)), `"count"`},
		{"a null batch ID", one(strings.Replace(valid, `"batch_id":"e"`, `"batch_id":null`, 1)), `"batch_id"`},
		{"null records", one(strings.Replace(valid, `[`+rec0+`]`, `null`, 1)), `"records"`},
		{"an object for records", one(strings.Replace(valid, `[`+rec0+`]`, `{}`, 1)), `"records"`},
		{"a record in the wrong case", one(strings.Replace(valid, `"status"`, `"Status"`, 1)), `records[0]`},
	} {
		code, out := f.do(t, "POST", path, tok, "application/json", []byte(c.body), nil)
		var eb errorBody
		if json.Unmarshal(out, &eb); code != http.StatusUnprocessableEntity || !strings.Contains(eb.Error, c.want) {
			t.Fatalf("%s: %d %s, want an error with %q", c.name, code, out, c.want)
		}
	}
	if n := len(f.j.Records()); n != 0 {
		t.Fatalf("refused batches journaled %d records", n)
	}
	// Whitespace after the object is no data.
	if code, out := f.do(t, "POST", path, tok, "application/json", []byte(" "+good+" \n\t"), nil); code != http.StatusOK {
		t.Fatalf("a batch between spaces: %d %s", code, out)
	}
}

// TestBatchEnvelopeLimits: at most MaxBatchRecords records, and a body of
// at most maxJSONBody bytes.
func TestBatchEnvelopeLimits(t *testing.T) {
	envelope := func(count, records int) []byte {
		return []byte(`{"batch_id":"x","count":` + strconv.Itoa(count) + `,"amount_fen":0,"records":[` +
			strings.TrimSuffix(strings.Repeat(`{},`, records), ",") + `]}`)
	}
	const max = acquire.MaxBatchRecords
	b, err := decodeBatchJSON(bytes.NewReader(envelope(max, max)))
	if err != nil || len(b.Records) != max || b.Count != max {
		t.Fatalf("%d records: %d %v", max, len(b.Records), err)
	}
	for _, c := range []struct{ count, records int }{{max, max + 1}, {max + 1, 0}, {-1, 0}} {
		if _, err := decodeBatchJSON(bytes.NewReader(envelope(c.count, c.records))); !citycard.IsKind(err, citycard.Invalid) || !strings.Contains(err.Error(), strconv.Itoa(max)) {
			t.Fatalf("count %d, %d records: %v", c.count, c.records, err)
		}
	}

	f := newFixture(t)
	u := f.ups[0]
	path := "/v1/terminals/" + u.Terminal.ID.String() + "/batches"
	pad := func(n int) []byte { // a body of n bytes, padded with spaces after the object
		b := jsonBatchOf(t, "p", u.Records[:1])
		return append(b, bytes.Repeat([]byte(" "), n-len(b))...)
	}
	if code, out := f.do(t, "POST", path, f.toks[u.Terminal.ID], "application/json", pad(maxJSONBody), nil); code != http.StatusOK {
		t.Fatalf("a body of %d bytes: %d %s", maxJSONBody, code, out)
	}
	if code, out := f.do(t, "POST", path, f.toks[u.Terminal.ID], "application/json", pad(maxJSONBody+1), nil); code != http.StatusUnprocessableEntity || !strings.Contains(string(out), "too large") {
		t.Fatalf("a body of %d bytes: %d %s", maxJSONBody+1, code, out)
	}
}

// TestBlacklistChangeStrict: the staff's change is held to the same rules.
func TestBlacklistChangeStrict(t *testing.T) {
	f := newFixture(t)
	op := f.staff + "-operator"
	valid := `"issuer":"31500001FFFFFFFF","asn":"3150000012345678","listed":true,"reason":"reported lost"`
	for _, c := range []struct{ name, ctype, body string }{
		{"no Content-Type", "", `{` + valid + `}`},
		{"a form", "application/x-www-form-urlencoded", `{` + valid + `}`},
		{"trailing data", "application/json", `{` + valid + `}{}`},
		{"a duplicate key", "application/json", `{` + valid + `,"listed":false}`},
		{"a key in another case", "application/json", `{` + strings.Replace(valid, `"asn"`, `"ASN"`, 1) + `}`},
		{"a missing key", "application/json", `{` + strings.Replace(valid, `,"listed":true`, "", 1) + `}`},
		{"a string for a bool", "application/json", `{` + strings.Replace(valid, `true`, `"true"`, 1) + `}`},
	} {
		if code, out := f.do(t, "POST", "/v1/blacklist", op, c.ctype, []byte(c.body), nil); code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d %s", c.name, code, out)
		}
	}
	if f.bl.Version() != 0 {
		t.Fatalf("refused changes changed the list: version %d", f.bl.Version())
	}
	if code, out := f.do(t, "POST", "/v1/blacklist", op, "application/json; charset=utf-8", []byte(`{`+valid+`}`), nil); code != http.StatusOK {
		t.Fatalf("a valid change: %d %s", code, out)
	}
}

// FuzzDecodeBatchJSON: the envelope decoder refuses with kind Invalid or
// accepts a valid JSON object with the four keys, once each, and nothing
// after it; what it accepts survives being written again.
func FuzzDecodeBatchJSON(f *testing.F) {
	f.Add([]byte(`{"batch_id":"x","count":1,"amount_fen":200,"records":[{"status":"ok"}]}`))
	f.Add([]byte(`{"batch_id":"x","count":0,"amount_fen":0,"records":[]} `))
	f.Add([]byte(`{"batch_id":"x","count":0,"amount_fen":0,"records":[]}{}`))
	f.Add([]byte(`{"batch_id":"x","Batch_ID":"y","count":0,"amount_fen":0,"records":[]}`))
	f.Add([]byte(`{"batch_id":"x","count":1e2,"amount_fen":-0,"records":[null,1,"a",[]]}`))
	f.Add([]byte(`{"batch_id":"\u00e9\ud800","count":9223372036854775807,"amount_fen":-9223372036854775808,"records":[{"a":{"b":[1,2]}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := decodeBatchJSON(bytes.NewReader(data))
		if err != nil {
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("error of kind %v: %v", citycard.KindOf(err), err)
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("accepted invalid JSON %q", data)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(data, &m); err != nil || len(m) != 4 {
			t.Fatalf("accepted %q: %d keys (%v)", data, len(m), err)
		}
		if b.Count < 0 || b.Count > acquire.MaxBatchRecords || len(b.Records) > acquire.MaxBatchRecords {
			t.Fatalf("accepted count %d, %d records", b.Count, len(b.Records))
		}
		again, _ := json.Marshal(map[string]any{"batch_id": b.BatchID, "count": b.Count, "amount_fen": b.AmountFen, "records": b.Records})
		b2, err := decodeBatchJSON(bytes.NewReader(again))
		if err != nil || b2.BatchID != b.BatchID || b2.Count != b.Count || b2.AmountFen != b.AmountFen || len(b2.Records) != len(b.Records) {
			t.Fatalf("written again as %s: %+v %v", again, b2, err)
		}
		for i := range b.Records {
			var x, y any
			json.Unmarshal(b.Records[i], &x)
			json.Unmarshal(b2.Records[i], &y)
			if !slices.Equal([]byte(mustMarshal(x)), []byte(mustMarshal(y))) {
				t.Fatalf("records[%d] %s became %s", i, b.Records[i], b2.Records[i])
			}
		}
	})
}

func mustMarshal(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
