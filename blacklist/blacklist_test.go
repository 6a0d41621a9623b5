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
