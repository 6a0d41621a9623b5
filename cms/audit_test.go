package cms

import (
	"context"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
)

var update = flag.Bool("update", false, "rewrite testdata/audit.golden")

// auditLogStore is a Store whose audit log is a slice; only AuditLog is
// used.
type auditLogStore struct {
	Store
	log []AuditRecord
}

func (s *auditLogStore) AuditLog(_ context.Context, after int64, fn func(a *AuditRecord) error) error {
	for i := range s.log {
		if s.log[i].Seq > after {
			if err := fn(&s.log[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

func sampleAudit() []AuditRecord {
	at := time.Date(2026, 3, 1, 1, 30, 0, 123456789, time.UTC)
	l := []AuditRecord{
		{At: at, Actor: "ann", ServicePoint: "nb-counter-01", Subject: "holder:1", Action: "register", After: `{"id":1}`},
		{At: at.Add(time.Second), Actor: "ann", ServicePoint: "nb-counter-01", Subject: "card:31500001FFFFFFFF/0123456789ABCDEF", Action: "apply", After: `{"state":"applied"}`},
		{At: at.Add(2 * time.Second), Actor: "app:1", ServicePoint: "app", Subject: "card:31500001FFFFFFFF/0123456789ABCDEF", Action: "report loss", Before: `{"state":"active"}`, After: `{"state":"lost"}`},
	}
	var prev AuditRecord
	for i := range l {
		l[i].Chain(&prev)
		prev = l[i]
	}
	return l
}

// TestAuditGolden pins the chain's encoding: stored logs depend on it, so
// it must never change. -update rewrites the file; testdata/audit1.py
// recomputes its first line without the Go code.
func TestAuditGolden(t *testing.T) {
	var b strings.Builder
	for _, a := range sampleAudit() {
		fmt.Fprintf(&b, "%d %s\n", a.Seq, hex.EncodeToString(a.Hash[:]))
	}
	path := filepath.Join("testdata", "audit.golden")
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Errorf("the audit chain's encoding changed:\n%s\nwant:\n%s", b.String(), want)
	}
}

// TestVerifyAudit changes each field of a record in turn: the chain names
// that record; a record missing or out of order is found too.
func TestVerifyAudit(t *testing.T) {
	ctx := context.Background()
	s := &auditLogStore{log: sampleAudit()}
	if n, err := VerifyAudit(ctx, s); n != 3 || err != nil {
		t.Fatalf("VerifyAudit: %d, %v", n, err)
	}
	edits := map[string]func(a *AuditRecord){
		"at":            func(a *AuditRecord) { a.At = a.At.Add(time.Nanosecond) },
		"actor":         func(a *AuditRecord) { a.Actor = "mallory" },
		"service point": func(a *AuditRecord) { a.ServicePoint = "x" },
		"subject":       func(a *AuditRecord) { a.Subject = "holder:2" },
		"action":        func(a *AuditRecord) { a.Action = "cancel loss" },
		"before":        func(a *AuditRecord) { a.Before = "" },
		"after":         func(a *AuditRecord) { a.After = `{"state":"active"}` },
		"hash":          func(a *AuditRecord) { a.Hash[0] ^= 1 },
		// Moving text from one field to the next is a change too: the
		// fields are length-prefixed.
		"a shifted boundary": func(a *AuditRecord) { a.Actor, a.ServicePoint = "app:1a", "pp" },
	}
	for name, edit := range edits {
		s := &auditLogStore{log: sampleAudit()}
		edit(&s.log[2])
		if _, err := VerifyAudit(ctx, s); !citycard.IsKind(err, citycard.Crypto) || !strings.Contains(err.Error(), "record 3") {
			t.Errorf("%s changed: %v", name, err)
		}
	}
	s.log = append(s.log[:1], s.log[2])
	if _, err := VerifyAudit(ctx, s); !citycard.IsKind(err, citycard.Crypto) {
		t.Errorf("a record missing: %v", err)
	}
}
