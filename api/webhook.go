package api

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/cms"
)

// WebhookTimeout bounds one webhook's delivery; a receiver slower than
// this is a failure, retried after the back-off.
const WebhookTimeout = 10 * time.Second

// WebhookSender posts the outbox's webhooks over HTTP (apps.Sender): a
// 2xx answer is a delivery, anything else (another status, no answer, a
// timeout) a failure. Client nil: an http.Client with WebhookTimeout.
type WebhookSender struct {
	Client *http.Client
}

// Send implements apps.Sender.
func (s WebhookSender) Send(ctx context.Context, url string, headers map[string]string, body []byte) error {
	c := s.Client
	if c == nil {
		c = &http.Client{Timeout: WebhookTimeout}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("webhook %s: %w", url, err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("webhook %s: %w", url, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4096)) // the connection reused
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("webhook %s: %s", url, resp.Status)
	}
	return nil
}

// CMSLifecycle is card management's audit log as apps.Office.Follow
// reads it (package apps cannot import cms: cms imports the gates, which
// import apps).
type CMSLifecycle struct{ Store cms.Store }

// AuditLog implements apps.Lifecycle.
func (l CMSLifecycle) AuditLog(ctx context.Context, after int64, fn func(a apps.AuditEntry) error) error {
	return l.Store.AuditLog(ctx, after, func(a *cms.AuditRecord) error {
		return fn(apps.AuditEntry{Seq: a.Seq, At: a.At, Subject: a.Subject, Action: a.Action, After: a.After})
	})
}

// AcquireJournal is the acquisition journal as apps.Office.IndexRecords
// reads it (package acquire's tests import apps).
type AcquireJournal struct{ Journal acquire.Journal }

// Replay implements apps.Journal.
func (j AcquireJournal) Replay(ctx context.Context, from int64, fn func(e apps.JournalEntry) error) error {
	return j.Journal.Replay(ctx, from, func(e *acquire.Journaled) error {
		return fn(apps.JournalEntry{Pos: e.Pos, Application: e.Class == acquire.ClassApplication, Raw: e.Raw[:]})
	})
}

// CMSConcessions is card management's answer to
// apps.Office.WithConcessions: a concession card's slot from its
// review (cms.Manager.Concession), scope its category's code.
type CMSConcessions struct{ Cards *cms.Manager }

// Concession implements apps.Concessions.
func (c CMSConcessions) Concession(ctx context.Context, ref apps.CardRef) (card.Entitlement, bool, error) {
	k, ok, err := c.Cards.Concession(ctx, ref.Issuer, ref.ASN)
	if err != nil || !ok {
		return card.Entitlement{}, false, citycard.Wrap("api.CMSConcessions.Concession", citycard.Other, err)
	}
	return ConcessionSlot(k), true, nil
}

// ConcessionSlot is a Concession as its entitlement file slot.
func ConcessionSlot(k cms.Concession) card.Entitlement {
	bcd := func(d cms.Date) citycard.BCDDate {
		b, _ := citycard.DateTime(time.Date(d.Year, d.Month, d.Day, 12, 0, 0, 0, citycard.ChinaTime))
		return b
	}
	return card.Entitlement{App: card.AppConcession, Scope: uint32(k.Category.Code), ValidFrom: bcd(k.From), ValidTo: bcd(k.To)}
}

// CMSCards is card management's answer to apps.Office.WithCards: a card
// in use (applied to active) may take a grant; one lost, replaced,
// damaged, expired or closed may not (Conflict).
type CMSCards struct{ Store cms.Store }

// Grantable implements apps.Cards.
func (c CMSCards) Grantable(ctx context.Context, ref apps.CardRef) (bool, error) {
	const op = "api.CMSCards.Grantable"
	card, err := c.Store.Card(ctx, ref.Issuer, ref.ASN)
	if err != nil {
		return false, citycard.Wrap(op, citycard.Other, err)
	}
	switch card.State {
	case cms.Lost, cms.Replaced, cms.Damaged, cms.Expired, cms.Closed:
		return false, citycard.E(op, citycard.Conflict, "card %v is %v: no entitlement granted", ref, card.State)
	}
	return card.Holder != 0, nil
}
