package apps

import (
	"testing"
	"time"
)

// TestBackoff: 1 s after the first failure, doubled after each, at most
// DeliveryBackoffMax (package doc, "Webhooks").
func TestBackoff(t *testing.T) {
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {11, 1024 * time.Second}, {12, DeliveryBackoffMax}, {100, DeliveryBackoffMax}} {
		if got := Backoff(c.n); got != c.want {
			t.Errorf("Backoff(%d) = %v, want %v", c.n, got, c.want)
		}
	}
}

// TestSignature: the signature verifies under its secret, over its body,
// within the tolerance (at the bound included), and not otherwise.
func TestSignature(t *testing.T) {
	now := time.Unix(1740816000, 0)
	body := []byte(`{"type":"card.lost"}`)
	sig := Signature("s3cret", now.Unix(), body)
	for _, c := range []struct {
		name, secret string
		body         []byte
		at           time.Time
		want         bool
	}{
		{"as sent", "s3cret", body, now, true},
		{"5 minutes later", "s3cret", body, now.Add(5 * time.Minute), true},
		{"5 minutes and a second later", "s3cret", body, now.Add(5*time.Minute + time.Second), false},
		{"another secret", "other", body, now, false},
		{"another body", "s3cret", []byte(`{"type":"card.found"}`), now, false},
	} {
		if got := VerifySignature(c.secret, sig, c.body, c.at, 5*time.Minute); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if VerifySignature("s3cret", "t=x,v1=00", body, now, time.Minute) {
		t.Error("a malformed signature verified")
	}
}
