package api

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/terminal"
)

// waitFor spins until cond holds, failing after a deadline that only a
// hung server would reach.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		runtime.Gosched()
	}
}

// TestUploadsBounded: with MaxUploads uploads being read, one more is
// refused at once, before its body is read (503 with Retry-After: the
// terminal keeps its batch); once one finishes, uploads are taken again.
func TestUploadsBounded(t *testing.T) {
	f := newFixture(t).with(t, func(s *Server) { s.MaxUploads = 2 })
	u := f.ups[0]
	tok := f.toks[u.Terminal.ID]
	type slow struct {
		w    *io.PipeWriter
		done chan int
	}
	var held []slow
	for i := 0; i < 2; i++ {
		pr, pw := io.Pipe()
		req, _ := http.NewRequest("POST", f.srv.URL+"/v1/terminals/"+u.Terminal.ID.String()+"/batches", pr)
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/octet-stream")
		req.Header.Set(HeaderBatchID, fmt.Sprintf("slow%d", i))
		req.Header.Set(HeaderCount, "1")
		req.Header.Set(HeaderAmount, strconv.Itoa(int(amountOf(u.Records[i]))))
		s := slow{w: pw, done: make(chan int, 1)}
		go func() {
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				s.done <- -1
				return
			}
			resp.Body.Close()
			s.done <- resp.StatusCode
		}()
		held = append(held, s)
	}
	waitFor(t, "two uploads in progress", func() bool { return len(f.s.uploads) == 2 })

	third := terminal.UploadBatch{Terminal: u.Terminal.ID, ID: "third", Records: u.Records[2:3], AmountFen: sum(u.Records[2:3])}
	_, err := f.client(0).Upload(context.Background(), third)
	if wait, ok := RetryAfter(err); !citycard.IsKind(err, citycard.Unavailable) || !ok || wait <= 0 {
		t.Fatalf("an upload past the bound: %v (retry after %v), want Unavailable with Retry-After", err, wait)
	}
	for i, s := range held {
		s.w.Write(u.Records[i])
		s.w.Close()
		if code := <-s.done; code != http.StatusOK {
			t.Fatalf("held upload %d: %d", i, code)
		}
	}
	if ans, err := f.client(0).Upload(context.Background(), third); err != nil || len(ans.Records) != 1 {
		t.Fatalf("after the held uploads: %+v %v", ans, err)
	}
}

// TestLimitListener: past n open connections Accept waits; a close lets
// the next one in.
func TestLimitListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := LimitListener(ln, 2)
	defer l.Close()
	accepted := make(chan net.Conn, 3)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted <- c
		}
	}()
	var clients []net.Conn
	for i := 0; i < 3; i++ {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		clients = append(clients, c)
	}
	first, second := <-accepted, <-accepted
	// Both slots are taken: the accepting goroutine cannot accept.
	waitFor(t, "two slots taken", func() bool { return len(l.(*limitListener).sem) == 2 })
	select {
	case <-accepted:
		t.Fatal("a third connection accepted with two open")
	default:
	}
	first.Close()
	third := <-accepted
	second.Close()
	third.Close()
}

// TestSyncBlacklistPaged: a terminal at version 0 downloads a list of
// more than two pages, while staff change it between pages, then the
// changes: its copy ends as the back office's list.
func TestSyncBlacklistPaged(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	n := 2*blacklist.MaxDeltaItems + 5
	for i := 0; i < n; i++ {
		c := blacklist.Card{Issuer: sim.Issuer, ASN: citycard.ASN{0, 0, 0x31, 0x50, 0, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}}
		if _, err := f.bl.Set(ctx, c, true, "lost", "ann"); err != nil {
			t.Fatal(err)
		}
	}
	local := blacklist.New(nil, nil)
	c := f.client(0)
	// One page by hand, then a change the copy has already seen as
	// listed, then the rest.
	since, after := local.Cursor()
	d, err := c.BlacklistPage(ctx, since, after, blacklist.MaxDeltaItems)
	if err != nil || !d.Full || !d.More || len(d.Cards) != blacklist.MaxDeltaItems {
		t.Fatalf("first page: %d cards, more %v (%v)", len(d.Cards), d.More, err)
	}
	if err := local.Apply(d); err != nil {
		t.Fatal(err)
	}
	gone := d.Cards[5]
	f.bl.Set(ctx, gone, false, "found", "ann")
	pages, err := c.SyncBlacklist(ctx, local)
	if err != nil || pages != 3 { // two more pages of the whole list, one of changes
		t.Fatalf("sync: %d pages (%v), want 3", pages, err)
	}
	if local.Version() != f.bl.Version() || local.Contains(gone.Issuer, gone.ASN) {
		t.Fatalf("copy at %d, list at %d; the delisted card listed: %v", local.Version(), f.bl.Version(), local.Contains(gone.Issuer, gone.ASN))
	}
	if pages, err := c.SyncBlacklist(ctx, local); err != nil || pages != 1 {
		t.Fatalf("sync when current: %d pages (%v)", pages, err)
	}
	// The bound of one sync: a copy that needs three pages, allowed two,
	// stops with a transient kind and finishes at the next sync.
	fresh := blacklist.New(nil, nil)
	c2 := f.client(1)
	c2.SyncPagesMax = 2
	if pages, err := c2.SyncBlacklist(ctx, fresh); !citycard.IsKind(err, citycard.Unavailable) || pages != 2 {
		t.Fatalf("sync past its bound: %d pages (%v), want 2 and Unavailable", pages, err)
	}
	c2.SyncPagesMax = 3
	if pages, err := c2.SyncBlacklist(ctx, fresh); err != nil || pages != 1 || fresh.Version() != f.bl.Version() {
		t.Fatalf("sync after the bound: %d pages (%v), version %d of %d", pages, err, fresh.Version(), f.bl.Version())
	}
	// Limits of a page.
	for _, q := range []string{"limit=0", "limit=10001", "after_issuer=XX&after_asn=1"} {
		if code, _ := f.do(t, "GET", "/v1/terminals/"+f.ups[0].Terminal.ID.String()+"/blacklist?since=0&"+q, f.toks[f.ups[0].Terminal.ID], "", nil, nil); code != http.StatusUnprocessableEntity {
			t.Fatalf("%s: %d, want 422", q, code)
		}
	}
}
