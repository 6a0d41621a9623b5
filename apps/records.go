package apps

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/record"
)

// Limits of the application records.
const (
	RecordsPageMax = 1000 // records in one page of Records
	IndexBatchMax  = 1000 // records IndexRecords writes in one transaction
)

// AppRecord is one of an application's journaled records (a check-in, an
// admission, a loan): what its gate stamped, found by its journal
// position.
type AppRecord struct {
	Pos         int64 // the acquisition journal's position
	App         string
	Card        CardRef
	Terminal    citycard.TerminalID
	TerminalSeq uint32
	Action      Action
	Date        citycard.BCDDate
	Time        citycard.BCDTime
	Place       uint32 // the gate's number, a site's
	Uses        uint32 // the uses the stamp left (loans out, admissions this month, the day's canteen spend in fen)
	Counter     uint16 // the card's application counter
	Flag        string // what the back office saw on filing it (FlagCanteenLimit), "" for nothing
}

// ActionCount is one line of a daily report: an action's taps and the
// cards that made them.
type ActionCount struct {
	Action Action
	Taps   int64
	Cards  int64
}

// JournalEntry is an entry of the acquisition journal as IndexRecords
// reads it (acquire.Journaled: package acquire's tests import this
// package, so the caller adapts it; api.AcquireJournal does).
type JournalEntry struct {
	Pos         int64
	Application bool   // the record was accepted as an application record (acquire.ClassApplication)
	Raw         []byte // the record, binary
}

// Journal is what IndexRecords reads of acquisition: its entries after a
// position, in order.
type Journal interface {
	Replay(ctx context.Context, from int64, fn func(e JournalEntry) error) error
}

// IndexRecords files the acquisition journal's accepted application
// records (class application) under the application of their kind (the
// record's network) and scope (its line): one reader of the journal for
// every application, from the lowest of their positions, each record
// filed under its application only if it is after that application's
// own position. Each batch of IndexBatchMax journal entries is one
// transaction of the store with every application's position moved to
// its end, so that a restart files nothing twice and misses nothing, and
// an application added later (at position 0) gets its gates' records
// journaled before it existed. A record of no application is passed
// over. It returns the position reached (the lowest of the
// applications'). The store's and the journal's kinds pass through.
func (o *Office) IndexRecords(ctx context.Context, j Journal) (int64, error) {
	const op = "apps.Office.IndexRecords"
	list, err := o.store.Apps(ctx)
	if err != nil {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	if len(list) == 0 {
		return 0, nil
	}
	cursors, err := o.store.RecordsCursors(ctx)
	if err != nil {
		return 0, citycard.Wrap(op, citycard.Other, err)
	}
	type key struct {
		kind  uint16
		scope uint32
	}
	byScope := map[key]string{}
	byID := map[string]*App{}
	from := int64(math.MaxInt64)
	for i, a := range list {
		byScope[key{uint16(a.Kind), a.Scope}] = a.ID
		byID[a.ID] = &list[i]
		from = min(from, cursors[a.ID])
	}
	var batch []AppRecord
	var events []Event
	cursor, last := from, from
	flush := func() error {
		if last == cursor {
			return nil
		}
		var moved []string // the applications this batch moves
		for _, a := range list {
			if cursors[a.ID] < last {
				moved = append(moved, a.ID)
			}
		}
		if err := o.store.ApplyRecords(ctx, last, moved, batch, events); err != nil {
			return err
		}
		for _, id := range moved {
			cursors[id] = last
		}
		cursor, batch, events = last, batch[:0], events[:0]
		return nil
	}
	err = j.Replay(ctx, from, func(e JournalEntry) error {
		last = e.Pos
		if e.Application {
			r, err := record.DecodeBinary(e.Raw)
			if err != nil {
				return err
			}
			if id, ok := byScope[key{r.Network, r.Line}]; ok && e.Pos > cursors[id] {
				ar := AppRecord{Pos: e.Pos, App: id, Card: CardRef{r.Issuer, r.ASN}, Terminal: r.TerminalID, TerminalSeq: r.TerminalSeq,
					Action: Action(r.Product), Date: r.Date, Time: r.Time, Place: r.Station, Uses: r.EntryStation, Counter: r.Counter}
				if ar.Action == Canteen {
					g, err := o.store.Grant(ctx, id, ar.Card)
					if err != nil && citycard.KindOf(err) != citycard.NotFound {
						return err
					}
					ar.Flag = canteenFlag(&ar, &g)
				}
				batch = append(batch, ar)
				if ev, ok := o.recordEvent(byID[id], &ar); ok {
					events = append(events, ev)
				}
			}
		}
		if last-cursor >= IndexBatchMax {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return cursor, citycard.Wrap(op, citycard.Other, err)
	}
	return cursor, nil
}

// recordEventJSON is a campus record's notification body.
type recordEventJSON struct {
	Type     string `json:"type"`
	App      string `json:"app"`
	Issuer   string `json:"issuer"`
	ASN      string `json:"asn"`
	Action   string `json:"action"`
	Date     string `json:"date"` // YYYYMMDD
	Time     string `json:"time"` // HHMMSS
	Place    uint32 `json:"place"`
	Terminal string `json:"terminal"`
	Pos      int64  `json:"pos"`
	EventKey string `json:"idempotency_key"`
}

// recordEvent is the notification of a campus application's check-in or
// check-out r (平安校园: the parents are told), keyed "record-POS", and
// false for a record of another kind.
func (o *Office) recordEvent(a *App, r *AppRecord) (Event, bool) {
	var typ string
	switch {
	case a.Kind != card.AppCampus:
		return Event{}, false
	case r.Action == CheckIn:
		typ = EventCheckIn
	case r.Action == CheckOut:
		typ = EventCheckOut
	default:
		return Event{}, false
	}
	key := "record-" + strconv.FormatInt(r.Pos, 10)
	body, _ := json.Marshal(recordEventJSON{Type: typ, App: a.ID, Issuer: r.Card.Issuer.String(), ASN: r.Card.ASN.String(), Action: r.Action.String(),
		Date: r.Date.String(), Time: fmt.Sprintf("%X", r.Time[:]), Place: r.Place, Terminal: r.Terminal.String(), Pos: r.Pos, EventKey: key})
	return Event{App: a.ID, Key: key, Type: typ, Body: string(body), NextAt: o.nextAt(a.WebhookURL != "")}, true
}

// Records returns up to limit (1..RecordsPageMax) of application app's
// records after journal position after, in journal order: its own only.
// Kind Invalid for a limit out of range.
func (o *Office) Records(ctx context.Context, app string, after int64, limit int) ([]AppRecord, error) {
	if limit < 1 || limit > RecordsPageMax {
		return nil, citycard.E("apps.Office.Records", citycard.Invalid, "limit %d: want 1 to %d", limit, RecordsPageMax)
	}
	return o.store.Records(ctx, app, after, limit)
}

// Report returns application app's daily report: for each action taken
// at its gates on day, the taps and the distinct cards, by action.
func (o *Office) Report(ctx context.Context, app string, day citycard.BCDDate) ([]ActionCount, error) {
	return o.store.DayCounts(ctx, app, day)
}
