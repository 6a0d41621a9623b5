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
