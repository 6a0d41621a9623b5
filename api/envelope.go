package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
)

// Request bodies are read strictly. encoding/json alone would take a
// second object or trailing data after the first (Decode stops there),
// keep the last of two equal keys, and match "Batch_ID" or "COUNT" to
// batch_id and count; a body that means one thing to us and another to
// the proxy, logger or terminal that wrote it is refused instead. So a
// body is tokenized: exactly one object, each key spelled exactly and
// given once, every key required, nothing but white space after it.

// The media types of request bodies.
const (
	mediaJSON   = "application/json"
	mediaBinary = "application/octet-stream"
)

// mediaType returns the request's media type if it is one of allowed:
// application/json with at most a charset=utf-8 parameter (JSON is UTF-8,
// RFC 8259), application/octet-stream without parameters. Kind Invalid
// otherwise: "application/jsonx" or "application/json-seq" is not JSON.
func mediaType(r *http.Request, allowed ...string) (string, error) {
	const op = "api.mediaType"
	ct := r.Header.Get("Content-Type")
	want := fmt.Sprintf("Content-Type %q: want %s", ct, strings.Join(allowed, " or "))
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", citycard.E(op, citycard.Invalid, "%s: %v", want, err)
	}
	ok := false
	for _, a := range allowed {
		ok = ok || mt == a
	}
	if !ok {
		return "", citycard.E(op, citycard.Invalid, "%s", want)
	}
	for k, v := range params {
		if mt != mediaJSON || k != "charset" || !strings.EqualFold(v, "utf-8") {
			return "", citycard.E(op, citycard.Invalid, "%s, parameter %s=%q not allowed", want, k, v)
		}
	}
	return mt, nil
}

// field is one key of a strict object and how to read its value.
type field struct {
	name string
	read func(dec *json.Decoder) error
}

// readObject reads exactly one JSON object from dec with the keys of
// fields, each once, spelled exactly, and nothing after it (see above).
// dec must use numbers (UseNumber). Errors name the key; the caller
// wraps them as kind Invalid.
func readObject(dec *json.Decoder, fields []field) error {
	tok, err := dec.Token()
	if err != nil {
		return notJSON(err)
	}
	if tok != json.Delim('{') {
		return fmt.Errorf("want a JSON object, have %v", tok)
	}
	seen := make([]bool, len(fields))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return notJSON(err)
		}
		key := tok.(string) // inside an object the decoder yields only string keys here
		i := -1
		for k := range fields {
			if fields[k].name == key {
				i = k
			}
		}
		if i < 0 {
			for _, f := range fields {
				if strings.EqualFold(f.name, key) {
					return fmt.Errorf("unknown field %q: keys are case-sensitive, want %q", key, f.name)
				}
			}
			return fmt.Errorf("unknown field %q", key)
		}
		if seen[i] {
			return fmt.Errorf("field %q given twice", key)
		}
		seen[i] = true
		if err := fields[i].read(dec); err != nil {
			return fmt.Errorf("field %q: %w", key, err)
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return notJSON(err)
	}
	if tok, err := dec.Token(); err != io.EOF {
		if err != nil {
			return fmt.Errorf("after the object: %w", notJSON(err))
		}
		return fmt.Errorf("after the object: %v", tok)
	}
	for i, f := range fields {
		if !seen[i] {
			return fmt.Errorf("field %q missing", f.name)
		}
	}
	return nil
}

// notJSON explains a decoder's error; a body over its limit says so.
func notJSON(err error) error {
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return fmt.Errorf("body too large: at most %d bytes", tooLarge.Limit)
	}
	if err == io.EOF {
		return errors.New("not JSON: the body ends early")
	}
	return fmt.Errorf("not JSON: %w", err)
}

// readString reads a JSON string into dst.
func readString(dst *string) func(*json.Decoder) error {
	return func(dec *json.Decoder) error {
		tok, err := dec.Token()
		if err != nil {
			return notJSON(err)
		}
		s, ok := tok.(string)
		if !ok {
			return fmt.Errorf("want a string, have %v", tok)
		}
		*dst = s
		return nil
	}
}

// readBool reads true or false into dst.
func readBool(dst *bool) func(*json.Decoder) error {
	return func(dec *json.Decoder) error {
		tok, err := dec.Token()
		if err != nil {
			return notJSON(err)
		}
		b, ok := tok.(bool)
		if !ok {
			return fmt.Errorf("want true or false, have %v", tok)
		}
		*dst = b
		return nil
	}
}

// readInt reads an integer from lo to hi, written as one: "1.0" and
// "1e0" are refused, as a count or an amount in fen is an integer.
func readInt(dst *int64, lo, hi int64) func(*json.Decoder) error {
	return func(dec *json.Decoder) error {
		tok, err := dec.Token()
		if err != nil {
			return notJSON(err)
		}
		n, ok := tok.(json.Number)
		if !ok {
			return fmt.Errorf("want an integer, have %v", tok)
		}
		v, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || v < lo || v > hi {
			return fmt.Errorf("%s: want an integer from %d to %d", n, lo, hi)
		}
		*dst = v
		return nil
	}
}

// batchJSON is the JSON form of a batch: the binary upload's headers as
// keys, and the records in their JSON form.
type batchJSON struct {
	BatchID   string
	Count     int
	AmountFen int64
	Records   []json.RawMessage // each decoded later by record.DecodeJSON
}

// decodeBatchJSON reads a batch's JSON form strictly (see above), with
// at most acquire.MaxBatchRecords records; it stops at the first record
// over the limit. Kind Invalid.
func decodeBatchJSON(r io.Reader) (batchJSON, error) {
	const op = "api.decodeBatchJSON"
	var b batchJSON
	var count int64
	dec := json.NewDecoder(r)
	dec.UseNumber()
	err := readObject(dec, []field{
		{"batch_id", readString(&b.BatchID)},
		{"count", readInt(&count, 0, acquire.MaxBatchRecords)},
		{"amount_fen", readInt(&b.AmountFen, math.MinInt64, math.MaxInt64)},
		{"records", func(dec *json.Decoder) error {
			tok, err := dec.Token()
			if err != nil {
				return notJSON(err)
			}
			if tok != json.Delim('[') {
				return fmt.Errorf("want an array of records, have %v", tok)
			}
			b.Records = []json.RawMessage{}
			for dec.More() {
				if len(b.Records) == acquire.MaxBatchRecords {
					return fmt.Errorf("more than %d records: at most %d in a batch", len(b.Records), acquire.MaxBatchRecords)
				}
				var raw json.RawMessage
				if err := dec.Decode(&raw); err != nil {
					return fmt.Errorf("records[%d]: %w", len(b.Records), notJSON(err))
				}
				b.Records = append(b.Records, raw)
			}
			_, err = dec.Token() // the closing bracket
			return notJSONOrNil(err)
		}},
	})
	if err != nil {
		return batchJSON{}, citycard.E(op, citycard.Invalid, "batch JSON: %w", err)
	}
	b.Count = int(count)
	return b, nil
}

func notJSONOrNil(err error) error {
	if err == nil {
		return nil
	}
	return notJSON(err)
}
