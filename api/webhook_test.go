package api

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard/apps"
)

// TestWebhookSender: an httptest receiver that fails at first (503) gets
// the signed event on the retry; a second delivery of it (at least once)
// carries the same idempotency key, so an idempotent handler handles it
// once; a receiver's refusal (401) is a failure.
func TestWebhookSender(t *testing.T) {
	const secret = "s3cret"
	var mu sync.Mutex
	calls, handled := 0, map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		body, _ := io.ReadAll(r.Body)
		if !apps.VerifySignature(secret, r.Header.Get(apps.HeaderSignature), body, time.Now(), 5*time.Minute) || r.Header.Get(apps.HeaderEvent) != "card.lost" {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		if calls == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		handled[r.Header.Get(apps.HeaderIdempotencyKey)]++
	}))
	defer srv.Close()
	s := WebhookSender{}
	body := []byte(`{"type":"card.lost"}`)
	hdr := func() map[string]string {
		return map[string]string{apps.HeaderEvent: "card.lost", apps.HeaderIdempotencyKey: "cms-audit-2-nb-library", apps.HeaderSignature: apps.Signature(secret, time.Now().Unix(), body)}
	}
	if err := s.Send(context.Background(), srv.URL, hdr(), body); err == nil {
		t.Fatal("a 503 was taken for a delivery")
	}
	for range 2 { // the retry, and a duplicate (a 2xx lost on the way)
		if err := s.Send(context.Background(), srv.URL, hdr(), body); err != nil {
			t.Fatal(err)
		}
	}
	if handled["cms-audit-2-nb-library"] != 2 || calls != 3 {
		t.Fatalf("calls %d, handled %v", calls, handled)
	}
	bad := hdr()
	bad[apps.HeaderSignature] = apps.Signature("other", time.Now().Unix(), body)
	if err := s.Send(context.Background(), srv.URL, bad, body); err == nil {
		t.Fatal("a receiver's 401 was taken for a delivery")
	}
}
