package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lineWriter collects what demo prints and tells when a line matches.
type lineWriter struct {
	mu   sync.Mutex
	b    strings.Builder
	want *regexp.Regexp
	hit  chan []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if w.hit != nil {
		if m := w.want.FindStringSubmatch(w.b.String()); m != nil {
			w.hit <- m
			w.hit = nil
		}
	}
	return len(p), nil
}

// TestDemoServesConsole: demo ends by serving the console over the city
// it simulated, printing the URL and a login, until interrupted; with
// --serve=false it exits after the city (as CI runs it).
func TestDemoServesConsole(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates a city")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &lineWriter{want: regexp.MustCompile(`console: (http://\S+/)\nlog in as: demo\npassword: +\S+\ntoken: +(\S+)\n`), hit: make(chan []string, 1)}
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, env{getenv: os.Getenv, stdout: out, stderr: io.Discard}, []string{"--cards", "150", "--days", "2", "--addr", "127.0.0.1:0"})
	}()
	var m []string
	select {
	case m = <-out.hit:
	case err := <-done:
		t.Fatalf("demo ended before serving: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("demo printed no console URL in 2 minutes")
	}
	cl := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := cl.Get(m[1])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
		t.Errorf("GET %s: %d to %q, want 303 to the login page", m[1], resp.StatusCode, resp.Header.Get("Location"))
	}
	api := func(path string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, m[1]+path, nil)
		req.Header.Set("Authorization", "Bearer "+m[2])
		resp, err := cl.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := api("v1/rejections"); code != http.StatusOK {
		t.Errorf("the API beside the console with the demo token: %d, want 200", code)
	}
	// The cardholders the city registered open under the data key the
	// console is served with (it used to draw a key of its own).
	if code := api("v1/cardholders/1"); code != http.StatusOK {
		t.Errorf("the city's first cardholder through the demo's API: %d, want 200", code)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("demo after an interrupt: %v", err)
	}
	for _, want := range []string{"### 1. A commute", "### 2. A city of 150 cards", "exactly_once", "### 3. The web console"} {
		if !strings.Contains(out.b.String(), want) {
			t.Errorf("demo's output lacks %q", want)
		}
	}

	// --serve=false: the city, then exit.
	if err := runDemo(context.Background(), env{getenv: os.Getenv, stdout: io.Discard, stderr: io.Discard}, []string{"--cards", "50", "--days", "1", "--serve=false"}); err != nil {
		t.Fatalf("demo --serve=false: %v", err)
	}
}
