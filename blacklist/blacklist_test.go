package blacklist

import (
	"context"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

type memStore struct{ changes []Change }

func (m *memStore) AppendChange(_ context.Context, c Change) error {
	m.changes = append(m.changes, c)
	return nil
}

func (m *memStore) Changes(_ context.Context, fn func(Change) error) error {
	for _, c := range m.changes {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func card(n byte) Card { return Card{Issuer: citycard.IssuerCode{1}, ASN: citycard.ASN{9: n}} }

func TestDeltas(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	l := New(st, func() time.Time { return time.Unix(0, 0) })
	l.keep = 3
	for n := byte(1); n <= 4; n++ {
		if _, err := l.Set(ctx, card(n), true, "lost", "test"); err != nil {
			t.Fatal(err)
		}
	}
	if v, _ := l.Set(ctx, card(2), true, "again", "test"); v != 4 {
		t.Fatalf("a no-op change moved the version to %d", v)
	}
	l.Set(ctx, card(1), false, "found", "test")
	if !l.Contains(card(2).Issuer, card(2).ASN) || l.Contains(card(1).Issuer, card(1).ASN) {
		t.Fatal("membership wrong")
	}
	// Version 5 now; changes 3, 4, 5 are kept.
	d, err := l.Since(3)
	if err != nil || d.Full || len(d.Changes) != 2 || d.Changes[0].Version != 4 || d.Changes[1].Added || d.Version != 5 {
		t.Fatalf("since 3: %+v %v", d, err)
	}
	d, _ = l.Since(1)
	if !d.Full || len(d.Cards) != 3 {
		t.Fatalf("since 1 (too old): %+v", d)
	}
	if d, _ = l.Since(5); d.Full || len(d.Changes) != 0 {
		t.Fatalf("up to date: %+v", d)
	}
	if _, err := l.Since(6); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("ahead: %v", err)
	}
	l2, err := Load(ctx, st, nil)
	if err != nil || l2.Version() != 5 || !l2.Contains(card(4).Issuer, card(4).ASN) || l2.Contains(card(1).Issuer, card(1).ASN) {
		t.Fatalf("reload: %v", err)
	}
}

// slowStore is a Store whose AppendChange waits until released: a
// database that is slow to commit.
type slowStore struct {
	entered, release chan struct{}
}

func (s *slowStore) AppendChange(ctx context.Context, c Change) error {
	s.entered <- struct{}{}
	<-s.release
	return nil
}

func (s *slowStore) Changes(ctx context.Context, fn func(c Change) error) error { return nil }

// TestWriteDoesNotBlockReaders: while a change is being written to the
// store, Contains and Version (which acquisition asks for every record)
// answer at once, from the list as it was before the change; the change
// shows once written.
func TestWriteDoesNotBlockReaders(t *testing.T) {
	st := &slowStore{entered: make(chan struct{}), release: make(chan struct{})}
	l := New(st, nil)
	c := Card{Issuer: citycard.IssuerCode{1}, ASN: citycard.ASN{2}}
	done := make(chan error, 1)
	go func() {
		_, err := l.Set(context.Background(), c, true, "reported lost", "ann")
		done <- err
	}()
	<-st.entered // the change is in the store's hands
	answered := make(chan bool, 1)
	go func() { answered <- l.Contains(c.Issuer, c.ASN) || l.Version() != 0 }()
	select {
	case changed := <-answered:
		if changed {
			t.Fatal("readers saw a change not yet written")
		}
	case err := <-done:
		t.Fatalf("Set returned before its write was released: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Contains waited for the store's write")
	}
	close(st.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !l.Contains(c.Issuer, c.ASN) || l.Version() != 1 {
		t.Fatal("the written change does not show")
	}
}

// sync brings a terminal's copy up to the list through pages of limit,
// as a terminal's download loop does, and returns how many pages it took.
func syncCopy(t *testing.T, l, local *List, limit int, between func(page int)) int {
	t.Helper()
	for page := 1; page < 1000; page++ {
		since, after := local.Cursor()
		d, err := l.Page(since, after, limit)
		if err != nil {
			t.Fatal(err)
		}
		if n := len(d.Cards) + len(d.Changes); n > limit {
			t.Fatalf("page of %d items, limit %d", n, limit)
		}
		if err := local.Apply(d); err != nil {
			t.Fatal(err)
		}
		if between != nil {
			between(page)
		}
		if s, a := local.Cursor(); a == nil && s == l.Version() {
			return page
		}
	}
	t.Fatal("no end of pages")
	return 0
}

func sameCards(t *testing.T, l, local *List) {
	t.Helper()
	if local.Version() != l.Version() || len(local.cards) != len(l.cards) {
		t.Fatalf("copy at version %d with %d cards, list at %d with %d", local.Version(), len(local.cards), l.Version(), len(l.cards))
	}
	for c := range l.cards {
		if !local.Contains(c.Issuer, c.ASN) {
			t.Fatalf("copy lacks %v", c)
		}
	}
}

// TestPagedSync: a terminal downloads a whole list larger than a page in
// pages, while staff change the list, then the changes made meanwhile:
// its copy ends as the list, whatever changed between pages.
func TestPagedSync(t *testing.T) {
	ctx := context.Background()
	l := New(&memStore{}, nil)
	for n := byte(1); n <= 25; n++ {
		l.Set(ctx, card(n), true, "lost", "ann")
	}
	local := New(nil, nil)
	pages := syncCopy(t, l, local, 10, func(page int) {
		if page == 1 {
			l.Set(ctx, card(3), false, "found", "ann")  // in a page received
			l.Set(ctx, card(24), false, "found", "ann") // in a page to come
			l.Set(ctx, card(40), true, "stolen", "ann") // after every page
			l.Set(ctx, card(0), true, "stolen", "ann")  // before every page
		}
	})
	if pages != 4 { // three pages of the whole list, one of changes
		t.Fatalf("%d pages, want 4", pages)
	}
	sameCards(t, l, local)

	// Many changes: pages of changes, each following the last.
	for n := byte(50); n < 80; n++ {
		l.Set(ctx, card(n), true, "lost", "ann")
	}
	if pages := syncCopy(t, l, local, 10, nil); pages != 3 {
		t.Fatalf("30 changes in %d pages, want 3", pages)
	}
	sameCards(t, l, local)
}

// TestPageBounds: a page holds 1 to MaxDeltaItems items, and a page of
// the whole list that does not follow the copy's last card is refused.
func TestPageBounds(t *testing.T) {
	ctx := context.Background()
	l := New(&memStore{}, nil)
	l.Set(ctx, card(1), true, "lost", "ann")
	for _, n := range []int{0, MaxDeltaItems + 1} {
		if _, err := l.Page(0, nil, n); !citycard.IsKind(err, citycard.Invalid) {
			t.Fatalf("page of %d: %v, want Invalid", n, err)
		}
	}
	if d, err := l.Page(0, nil, MaxDeltaItems); err != nil || len(d.Cards) != 1 || d.More {
		t.Fatalf("page of MaxDeltaItems: %+v %v", d, err)
	}
	local := New(nil, nil)
	c2 := card(2)
	if err := local.Apply(Delta{Full: true, After: &c2, Cards: []Card{card(3)}}); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("a page following nothing received: %v, want Conflict", err)
	}
	if err := local.Apply(Delta{Version: 4, Full: true, Cards: []Card{card(3), card(2)}, More: true}); !citycard.IsKind(err, citycard.Conflict) {
		t.Fatalf("a page out of order: %v, want Conflict", err)
	}
}

// TestListedBy: a listing keeps who made it, through a no-op relisting by
// someone else and a reload from the store; a delisting forgets it; a
// copy built from pages of the whole list knows the cards, not who listed
// them.
func TestListedBy(t *testing.T) {
	ctx := context.Background()
	st := &memStore{}
	l := New(st, nil)
	for _, c := range []struct {
		n     byte
		added bool
		by    string
	}{{1, true, "staff:ann"}, {2, true, "interconnection"}, {1, true, "interconnection"}, {3, true, "staff:bo"}, {3, false, "staff:bo"}} {
		if _, err := l.Set(ctx, card(c.n), c.added, "why", c.by); err != nil {
			t.Fatal(err)
		}
	}
	want := map[byte]string{1: "staff:ann", 2: "interconnection"}
	check := func(name string, l *List, want map[byte]string) {
		t.Helper()
		for n := byte(1); n <= 3; n++ {
			by, on := l.ListedBy(card(n))
			if w, ok := want[n]; on != ok || by != w {
				t.Errorf("%s: card %d listed %v by %q, want %v by %q", name, n, on, by, ok, w)
			}
		}
	}
	check("the list", l, want)
	l2, err := Load(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	check("reloaded", l2, want)
	d, _ := l.Since(0)
	cp := New(nil, nil)
	if err := cp.Apply(d); err != nil {
		t.Fatal(err)
	}
	check("a copy from the whole list", cp, map[byte]string{1: "", 2: ""})
}
