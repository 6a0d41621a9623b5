package api

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard"
)

// answer is how the API answers an error of one kind.
type answer struct {
	code int
	// retryAfterS is the Retry-After the answer carries, in seconds; zero
	// for none. Only faults that pass (kinds IO and Unavailable) and
	// Throttled have one; an error's own wait (citycard.RetryAfter)
	// replaces the table's.
	retryAfterS int
}

// kindStatus is the one table from error kind to HTTP status; the package
// doc says why each kind answers what it does. TestKindStatusTable checks
// that every kind up to the last one has its row.
var kindStatus = [...]answer{
	citycard.Other:           {code: http.StatusInternalServerError},
	citycard.Invalid:         {code: http.StatusUnprocessableEntity},
	citycard.NotFound:        {code: http.StatusNotFound},
	citycard.Exists:          {code: http.StatusConflict},
	citycard.Permission:      {code: http.StatusForbidden},
	citycard.Crypto:          {code: http.StatusUnprocessableEntity},
	citycard.KeyMissing:      {code: http.StatusUnprocessableEntity},
	citycard.Conflict:        {code: http.StatusConflict},
	citycard.Insufficient:    {code: http.StatusConflict},
	citycard.IO:              {code: http.StatusServiceUnavailable, retryAfterS: 1},
	citycard.Unauthenticated: {code: http.StatusUnauthorized},
	citycard.Unavailable:     {code: http.StatusServiceUnavailable, retryAfterS: 5},
	citycard.Throttled:       {code: http.StatusTooManyRequests, retryAfterS: 1},
}

// statusOf returns the answer to an error of kind k; a kind the table does
// not know (a programming error, caught by the table's test) is answered
// as Other.
func statusOf(k citycard.Kind) answer {
	if int(k) < len(kindStatus) && kindStatus[k].code != 0 {
		return kindStatus[k]
	}
	return kindStatus[citycard.Other]
}

// HTTPStatus is the HTTP status an error of kind k answers, from the
// one table (kindStatus): the console's pages answer the API's statuses.
func HTTPStatus(k citycard.Kind) int { return statusOf(k).code }

// errorBody is the body of every error answer: what went wrong (for a 5xx,
// only the status text: the detail is logged) and the kind's name.
type errorBody struct {
	Error string `json:"error"`
	Kind  string `json:"kind"`
}

// fail answers err as the table says.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	k := citycard.KindOf(err)
	a := statusOf(k)
	msg := err.Error()
	if a.code >= 500 {
		level := slog.LevelError
		if citycard.Transient(err) {
			level = slog.LevelWarn // it passes: a person need not look unless it lasts
		}
		s.Logger.Log(r.Context(), level, "api: request failed", "method", r.Method, "path", r.URL.Path, "status", a.code, "err", err)
		msg = http.StatusText(a.code)
	}
	if a.code == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="citycard"`)
	}
	if wait := citycard.RetryAfter(err); wait > 0 {
		a.retryAfterS = int((wait + time.Second - 1) / time.Second) // the error's own wait, rounded up
	}
	if a.retryAfterS > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(a.retryAfterS))
	}
	b, _ := json.Marshal(errorBody{Error: msg, Kind: k.String()}) // two strings: it cannot fail
	writeBody(w, a.code, b)
}

// kindNamed returns the kind whose name is name.
func kindNamed(name string) (citycard.Kind, bool) {
	for k := citycard.Kind(0); !strings.HasPrefix(k.String(), "kind("); k++ {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}

// kindOfStatus is the inverse of kindStatus for an answer without a kind
// the client can trust (from a proxy, or a server of another version):
// the status alone says whether to retry. Statuses no table row produces
// (502, 504, ...) are faults on the way: IO.
func kindOfStatus(code int) citycard.Kind {
	switch code {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return citycard.Invalid
	case http.StatusUnauthorized:
		return citycard.Unauthenticated
	case http.StatusForbidden:
		return citycard.Permission
	case http.StatusNotFound:
		return citycard.NotFound
	case http.StatusConflict:
		return citycard.Conflict
	case http.StatusInternalServerError:
		return citycard.Other
	case http.StatusServiceUnavailable, http.StatusTooManyRequests:
		return citycard.Unavailable
	}
	return citycard.IO
}

// maxRetryAfter bounds the wait a Retry-After can ask for: a terminal
// must not be told to stop uploading for a day by a stray header.
const maxRetryAfter = time.Hour

// RetryAfter reports how long the back office asked the caller to wait
// before it tries again (the Retry-After of an answer, at most an hour:
// the error's citycard.RetryAfter), and whether it asked.
func RetryAfter(err error) (time.Duration, bool) {
	d := citycard.RetryAfter(err)
	return d, d > 0
}

// parseRetryAfter reads a Retry-After header: delay-seconds, or an
// HTTP-date, which is measured from the answer's own Date so that the
// client's clock does not matter.
func parseRetryAfter(h http.Header) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseUint(v, 10, 32); err == nil {
		return min(time.Duration(n)*time.Second, maxRetryAfter), true
	}
	at, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	now, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return 0, false
	}
	return min(max(at.Sub(now), 0), maxRetryAfter), true
}

// errorFromResponse turns an API error answer back into a citycard error
// of the kind the server answered with: the kind the body names when it is
// one that answers with this status, otherwise the status's own kind (see
// kindOfStatus). A Retry-After travels with the error (see RetryAfter).
func errorFromResponse(op string, resp *http.Response) error {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10)) // the status says enough if the body is cut
	kind := kindOfStatus(resp.StatusCode)
	var eb errorBody
	if json.Unmarshal(body, &eb) != nil || eb.Error == "" {
		eb.Error = strings.TrimSpace(string(body))
	} else if k, ok := kindNamed(eb.Kind); ok && statusOf(k).code == resp.StatusCode {
		kind = k
	}
	wait, _ := parseRetryAfter(resp.Header)
	return &citycard.Error{Op: op, Kind: kind, Err: fmt.Errorf("%s: %s", resp.Status, eb.Error), Wait: wait}
}

// reply answers v as JSON with status code. v is marshalled before
// anything is written, so that a value that cannot be marshalled is an
// error answer, not a truncated 200.
func (s *Server) reply(w http.ResponseWriter, r *http.Request, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		s.fail(w, r, citycard.E("api.reply", citycard.Other, "answer %T: %w", v, err))
		return
	}
	writeBody(w, code, b)
}

func writeBody(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n')) // the client went away: nothing to do
}
