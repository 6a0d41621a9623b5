package city

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard/apps"
)

// The receiver refuses a bad signature (and one for another
// application), takes an event once by its Idempotency-Key and counts a
// delivery again deduplicated.
func TestHookReceiver(t *testing.T) {
	c := &City{}
	now := time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC)
	c.setNow(now)
	h := &hookReceiver{c: c, secrets: map[string]string{"lib": "s3cret", "school": "other"},
		taken: map[string]int{}, seen: map[string]int{}, lost: map[string]int{}, apps: map[string]string{}}
	body := `{"type":"grant.revoked"}`
	post := func(app, secret string, at time.Time, key string) int {
		t.Helper()
		r := httptest.NewRequest(http.MethodPost, "/hooks/"+app, strings.NewReader(body))
		r.Header.Set(apps.HeaderSignature, apps.Signature(secret, at.Unix(), []byte(body)))
		r.Header.Set(apps.HeaderIdempotencyKey, key)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Code
	}
	for _, tc := range []struct {
		name, app, secret string
		at                time.Time
		key               string
		want              int
	}{
		{"a wrong secret", "lib", "guess", now, "k1", http.StatusUnauthorized},
		{"another application's secret", "school", "s3cret", now, "k1", http.StatusUnauthorized},
		{"an unknown application", "parking", "s3cret", now, "k1", http.StatusUnauthorized},
		{"signed too long ago", "lib", "s3cret", now.Add(-hookTolerance - time.Second), "k1", http.StatusUnauthorized},
		{"signed at the tolerance", "lib", "s3cret", now.Add(-hookTolerance), "k1", http.StatusNoContent},
		{"the same event again", "lib", "s3cret", now, "k1", http.StatusNoContent},
		{"another event", "lib", "s3cret", now, "k2", http.StatusNoContent},
	} {
		if got := post(tc.app, tc.secret, tc.at, tc.key); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	if h.badSig != 4 || h.taken["k1"] != 1 || h.seen["k1"] != 2 || h.deduplicated != 1 || h.taken["k2"] != 1 || h.deliveries != 3 {
		t.Errorf("bad signatures %d, k1 taken %d seen %d, deduplicated %d, k2 taken %d, deliveries %d; want 4, 1, 2, 1, 1, 3",
			h.badSig, h.taken["k1"], h.seen["k1"], h.deduplicated, h.taken["k2"], h.deliveries)
	}
}
