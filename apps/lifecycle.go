package apps

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
)

// Event types of the webhooks.
const (
	EventCardLost     = "card.lost"        // the card was reported lost: the application's grant on it is blocked
	EventCardFound    = "card.found"       // the loss report was cancelled: the grant is active again
	EventCardReplaced = "card.replaced"    // a new card took over: the grant moved to it
	EventCheckIn      = "campus.check_in"  // a pupil's check-in at a school gate: the parents are told
	EventCheckOut     = "campus.check_out" // a pupil's check-out
)

// PollOnly is the next attempt of an event for an application without a
// webhook URL: never due, it waits in the outbox for the application to
// poll it (Office.Events).
var PollOnly = time.Unix(0, math.MaxInt64).UTC()

// nextAt is a new event's first attempt: now for an application with a
// webhook, PollOnly for one without.
func (o *Office) nextAt(hooked bool) time.Time {
	if hooked {
		return o.now().UTC()
	}
	return PollOnly
}

// Limits of the outbox's delivery.
const (
	DeliveryAttemptsMax = 12               // then the event is kept as failed
	DeliveryBackoffBase = time.Second      // the wait after the first failure, doubled after each
	DeliveryBackoffMax  = 30 * time.Minute // the longest wait between two attempts
)

// Event is one webhook in the outbox: a lifecycle event of one card told
// to one application. Key is its idempotency key, the same on every
// attempt: "cms-audit-SEQ-APP", from the card management audit record it
// was derived from.
type Event struct {
	ID          int64
	App         string
	Key         string
	Type        string
	Body        string // the JSON the receiver gets
	Attempts    int
	NextAt      time.Time // the next attempt's earliest time
	DeliveredAt time.Time // zero until a receiver answered 2xx
	Failed      bool      // DeliveryAttemptsMax attempts failed: kept, no longer tried
}

// eventJSON is an event's body.
type eventJSON struct {
	Type     string `json:"type"`
	App      string `json:"app"`
	Issuer   string `json:"issuer"`
	ASN      string `json:"asn"`
	NewASN   string `json:"new_asn,omitempty"`
	State    string `json:"state"` // the grant's state now
	At       string `json:"at"`
	AuditSeq int64  `json:"audit_seq"`
	EventKey string `json:"idempotency_key"`
}

// AuditEntry is a record of card management's audit log (cms.AuditRecord:
// package cms imports the gates, which import this package, so the
// caller adapts it).
type AuditEntry struct {
	Seq     int64
	At      time.Time
	Subject string // "card:ISSUER/ASN"
	Action  string // cms.Move's name: "report loss", "cancel loss", "replace"
	After   string // the card's snapshot, JSON: replaced_by on a replacement
}

// Lifecycle is what Follow needs of card management: its audit log after
// a sequence number, in order.
type Lifecycle interface {
	AuditLog(ctx context.Context, after int64, fn func(a AuditEntry) error) error
}

// The audit actions Follow carries (cms.ReportLoss, CancelLoss, Replace:
// names stored in the audit log, which never change).
var lifecycleEvents = map[string]string{"report loss": EventCardLost, "cancel loss": EventCardFound, "replace": EventCardReplaced}

// Follow carries card management's lifecycle to the applications: it
// reads the audit log after the store's cursor and, for each loss report,
// cancelled loss and replacement of a card with grants, changes the grants
// (a loss blocks them, a cancelled loss makes them active again, a
// replacement moves them to the new card, active) and queues one event
// for each application concerned (due at once with a webhook URL, for
// polling only without: PollOnly), with the cursor, in one transaction
// of the store: an event is never lost and never queued twice. A record it
// cannot read (a subject or a snapshot that does not parse: kind Invalid)
// is quarantined: kept with its reason in the store (QuarantinedAudit),
// the cursor moved past it in the same transaction, and counted in
// quarantined, so that one bad record neither stops the lifecycle of
// every other card for good nor is lost. It returns the cursor reached.
// The store's kinds pass through, and stop the round: the next one
// starts again at the record.
func (o *Office) Follow(ctx context.Context, log Lifecycle) (cursor int64, quarantined int, err error) {
	const op = "apps.Office.Follow"
	cursor, err = o.store.Cursor(ctx)
	if err != nil {
		return 0, 0, citycard.Wrap(op, citycard.Other, err)
	}
	// idle is the last of a run of records that concern no application
	// (a sale, a load, a staff change: most of the log), whose cursor is
	// stored once, with the next record that changes something or at the
	// end, rather than in a transaction each: a crash before it only
	// reads them again, to do nothing again.
	var idle int64
	err = log.AuditLog(ctx, cursor, func(a AuditEntry) error {
		typ, c, nu, bad := readAudit(&a)
		if bad != nil {
			q := Quarantined{Seq: a.Seq, Subject: a.Subject, Action: a.Action, Reason: bad.Error(), At: o.now().UTC()}
			if err := o.store.Quarantine(ctx, q); err != nil {
				return err
			}
			quarantined++
			cursor, idle = a.Seq, 0
			return nil
		}
		grants, events, err := o.lifecycle(ctx, &a, typ, c, nu)
		if err != nil {
			return err
		}
		if len(grants) == 0 && len(events) == 0 {
			cursor, idle = a.Seq, a.Seq
			return nil
		}
		if err := o.store.ApplyLifecycle(ctx, a.Seq, grants, events); err != nil {
			return err
		}
		cursor, idle = a.Seq, 0
		return nil
	})
	if idle != 0 {
		if serr := o.store.ApplyLifecycle(ctx, idle, nil, nil); serr != nil && err == nil {
			err = serr
		}
	}
	if err != nil {
		return cursor, quarantined, citycard.Wrap(op, citycard.Other, err)
	}
	return cursor, quarantined, nil
}

// Quarantined is an audit record Follow could not apply, as the store
// keeps it: its number, subject and action, and why.
type Quarantined struct {
	Seq     int64
	Subject string
	Action  string
	Reason  string
	At      time.Time // when it was quarantined
}

// QuarantinePageMax bounds a page of Quarantine.
const QuarantinePageMax = 1000

// Quarantine returns up to limit (1..QuarantinePageMax) of the audit
// records Follow quarantined, after audit sequence number after. Kind
// Invalid for a limit out of range.
func (o *Office) Quarantine(ctx context.Context, after int64, limit int) ([]Quarantined, error) {
	if limit < 1 || limit > QuarantinePageMax {
		return nil, citycard.E("apps.Office.Quarantine", citycard.Invalid, "limit %d: want 1 to %d", limit, QuarantinePageMax)
	}
	return o.store.QuarantinedAudit(ctx, after, limit)
}

// readAudit reads what Follow carries of audit record a: its event type
// ("" for a record that is not a card's loss, cancelled loss or
// replacement), its card and, on a replacement, the new card. Kind
// Invalid for a record that does not parse: Follow quarantines it.
func readAudit(a *AuditEntry) (typ string, c, nu CardRef, err error) {
	const op = "apps.readAudit"
	typ = lifecycleEvents[a.Action]
	if typ == "" || !strings.HasPrefix(a.Subject, "card:") {
		return "", c, nu, nil
	}
	if c, err = ParseCard(strings.TrimPrefix(a.Subject, "card:")); err != nil {
		return "", c, nu, citycard.E(op, citycard.Invalid, "audit record %d: subject: %w", a.Seq, err)
	}
	if typ != EventCardReplaced {
		return typ, c, nu, nil
	}
	// The card's snapshot, alone or, as a money operation's record has
	// it, under "card".
	var snap struct {
		ReplacedBy string `json:"replaced_by"`
		Card       struct {
			ReplacedBy string `json:"replaced_by"`
		} `json:"card"`
	}
	if err := json.Unmarshal([]byte(a.After), &snap); err != nil {
		return "", c, nu, citycard.E(op, citycard.Invalid, "audit record %d: snapshot: %w", a.Seq, err)
	}
	if snap.ReplacedBy == "" {
		snap.ReplacedBy = snap.Card.ReplacedBy
	}
	nu.Issuer = c.Issuer
	if nu.ASN, err = citycard.ParseASN(snap.ReplacedBy); err != nil {
		return "", c, nu, citycard.E(op, citycard.Invalid, "audit record %d: replaced_by: %w", a.Seq, err)
	}
	return typ, c, nu, nil
}

// lifecycle returns the grant changes and events of audit record a, of
// type typ on card c (nu: the new card of a replacement). The store's
// kinds pass through.
func (o *Office) lifecycle(ctx context.Context, a *AuditEntry, typ string, c, nu CardRef) ([]Grant, []Event, error) {
	if typ == "" {
		return nil, nil, nil
	}
	gs, _, err := o.store.CardGrants(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	at := a.At.UTC()
	var grants []Grant
	var events []Event
	hooked := map[string]bool{}
	for _, g := range gs {
		if _, ok := hooked[g.App]; !ok {
			app, err := o.store.App(ctx, g.App)
			if err != nil {
				return nil, nil, err
			}
			hooked[g.App] = app.WebhookURL != ""
		}
		changed := g
		changed.ChangedAt = at
		switch {
		case typ == EventCardLost && g.State == Active:
			changed.State = Blocked
		case typ == EventCardFound && g.State == Blocked:
			changed.State = Active
		case typ == EventCardReplaced && g.State != Revoked:
			// The old card's grant ends; the new card's starts active.
			changed.State = Revoked
			moved := g
			moved.Card, moved.State, moved.ChangedAt = nu, Active, at
			if err := o.carry(ctx, &g, &moved.Slot); err != nil {
				return nil, nil, err
			}
			grants = append(grants, moved)
		default:
			continue
		}
		grants = append(grants, changed)
		key := "cms-audit-" + strconv.FormatInt(a.Seq, 10) + "-" + g.App
		state := changed.State
		if typ == EventCardReplaced {
			state = Active
		}
		body, err := json.Marshal(eventJSON{Type: typ, App: g.App, Issuer: c.Issuer.String(), ASN: c.ASN.String(), NewASN: optASN(nu.ASN),
			State: state.String(), At: at.Format(time.RFC3339Nano), AuditSeq: a.Seq, EventKey: key})
		if err != nil {
			return nil, nil, err
		}
		events = append(events, Event{App: g.App, Key: key, Type: typ, Body: string(body), NextAt: o.nextAt(hooked[g.App])})
	}
	return grants, events, nil
}

// carry sets what a replacement's file starts with on slot (a copy of
// the old card's grant g's): the use of a library or the bike out of a
// bike grant, by the old card's last record the back office filed
// (Store.LastRecord), or, with none filed, what g carried itself (a card
// replaced again before its first stamp). A library carries the loans
// out, at most its limit; a bike dock a hire (its date and time) or
// nothing out, so the new card's next hire closes the old card's bike
// (overdue: the network's maximum fare) and its return prices the whole
// rental. The others start at no use: theirs is a day's or a month's
// (package doc: "Replacement and use"). The store's kinds pass through.
func (o *Office) carry(ctx context.Context, g *Grant, slot *card.Entitlement) error {
	if g.Slot.App != card.AppLibrary {
		slot.Uses = 0
		if g.Slot.App != card.AppBike {
			return nil
		}
	}
	r, err := o.store.LastRecord(ctx, g.App, g.Card)
	switch {
	case citycard.KindOf(err) == citycard.NotFound:
		if g.Slot.App == card.AppLibrary {
			slot.Uses = min(g.Slot.Uses, g.Slot.Limit)
		}
		return nil
	case err != nil:
		return err
	}
	if g.Slot.App == card.AppLibrary {
		slot.Uses = uint16(min(r.Uses, uint32(g.Slot.Limit)))
		return nil
	}
	slot.Inside, slot.LastDate, slot.LastTime = r.Action == Hire, citycard.BCDDate{}, citycard.BCDTime{}
	if r.Action == Hire {
		slot.LastDate, slot.LastTime = r.Date, r.Time
	}
	return nil
}

func optASN(a citycard.ASN) string {
	if a == (citycard.ASN{}) {
		return ""
	}
	return a.String()
}

// Signature is the value of the X-Citycard-Signature header of a webhook
// sent at unix seconds t: "t=T,v1=HEX", HEX the HMAC-SHA256 under the
// application's webhook secret over "T." and the body. A receiver
// recomputes it and refuses a t too far from its clock (a replay).
func Signature(secret string, t int64, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	ts := strconv.FormatInt(t, 10)
	m.Write([]byte(ts + "."))
	m.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(m.Sum(nil))
}

// VerifySignature reports whether sig is body's Signature under secret at
// a time within tolerance of now.
func VerifySignature(secret, sig string, body []byte, now time.Time, tolerance time.Duration) bool {
	ts, _, ok := strings.Cut(strings.TrimPrefix(sig, "t="), ",")
	t, err := strconv.ParseInt(ts, 10, 64)
	if !ok || err != nil {
		return false
	}
	if d := now.Sub(time.Unix(t, 0)); d > tolerance || d < -tolerance {
		return false
	}
	return hmac.Equal([]byte(sig), []byte(Signature(secret, t, body)))
}

// Backoff is the wait after the n-th failed attempt (n from 1):
// DeliveryBackoffBase doubled n-1 times, at most DeliveryBackoffMax.
func Backoff(n int) time.Duration {
	d := DeliveryBackoffBase
	for i := 1; i < n && d < DeliveryBackoffMax; i++ {
		d *= 2
	}
	return min(d, DeliveryBackoffMax)
}

func (e *Event) String() string { return fmt.Sprintf("event %d (%s, %s)", e.ID, e.Type, e.Key) }

// Sender posts a webhook: body to url with headers; an error for anything
// but a 2xx answer. The HTTP one is api.WebhookSender.
type Sender interface {
	Send(ctx context.Context, url string, headers map[string]string, body []byte) error
}

// Webhook headers.
const (
	HeaderSignature      = "X-Citycard-Signature"
	HeaderEvent          = "X-Citycard-Event"
	HeaderIdempotencyKey = "Idempotency-Key"
)

// Deliver sends up to limit due events of the outbox, each signed with
// its application's webhook secret at the time of sending, and stores
// the outcome: delivered, or the next attempt after Backoff, or failed
// after DeliveryAttemptsMax attempts. A receiver may see an event more
// than once (a 2xx lost on the way, a crash before the outcome is
// stored): its Idempotency-Key is the same on every attempt. It returns
// the events delivered and those that failed this round. The store's
// kinds pass through; a receiver's failure is not an error of Deliver.
func (o *Office) Deliver(ctx context.Context, send Sender, limit int) (delivered, failed int, err error) {
	const op = "apps.Office.Deliver"
	now := o.now().UTC()
	evs, err := o.store.DueEvents(ctx, now, limit)
	if err != nil {
		return 0, 0, citycard.Wrap(op, citycard.Other, err)
	}
	known := map[string]App{}
	for i := range evs {
		e := &evs[i]
		a, ok := known[e.App]
		if !ok {
			if a, err = o.store.App(ctx, e.App); err != nil {
				return delivered, failed, citycard.Wrap(op, citycard.Other, err)
			}
			known[e.App] = a
		}
		body := []byte(e.Body)
		serr := send.Send(ctx, a.WebhookURL, map[string]string{
			"Content-Type": "application/json", HeaderEvent: e.Type, HeaderIdempotencyKey: e.Key,
			HeaderSignature: Signature(a.WebhookSecret, now.Unix(), body),
		}, body)
		e.Attempts++
		switch {
		case serr == nil:
			e.DeliveredAt = now
			delivered++
		case e.Attempts >= DeliveryAttemptsMax:
			e.Failed = true
			failed++
		default:
			e.NextAt = now.Add(Backoff(e.Attempts))
		}
		if err := o.store.UpdateEvent(ctx, e); err != nil {
			return delivered, failed, citycard.Wrap(op, citycard.Other, err)
		}
	}
	return delivered, failed, nil
}

// EventsPageMax bounds a page of Events.
const EventsPageMax = 1000

// Events returns up to limit (1..EventsPageMax) of application app's
// events after outbox ID after, by ID, whether its webhook took them or
// not: what an application without a webhook polls, and one with a
// webhook catches up with. Kind Invalid for a limit out of range or a
// negative after.
func (o *Office) Events(ctx context.Context, app string, after int64, limit int) ([]Event, error) {
	const op = "apps.Office.Events"
	if limit < 1 || limit > EventsPageMax {
		return nil, citycard.E(op, citycard.Invalid, "limit %d: want 1 to %d", limit, EventsPageMax)
	}
	if after < 0 {
		return nil, citycard.E(op, citycard.Invalid, "after %d: want 0 or more", after)
	}
	evs, err := o.store.Events(ctx, app, after, limit)
	if err != nil {
		return nil, citycard.Wrap(op, citycard.Other, err)
	}
	return evs, nil
}
