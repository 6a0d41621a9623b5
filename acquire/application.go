package acquire

import (
	"github.com/citycard/citycard/record"
)

// Application records (citycard.TxApplication: a check-in, an admission, a
// loan) move no e-purse counter and no money. Their card part is the
// application counter of the card's entitlement file: each card has its
// own track of it, kept apart from the shadows (apps in the shard), so
// that the millions of cards that never tap an application gate pay
// nothing for it. See the package doc, "Non-financial records".

// stepApp is step's card part for an application record: new (or late)
// on its card's application counter is ClassApplication, flagged when the
// counter skipped; a counter seen before is a copy of that record
// (ClassDuplicate), since the card moves its counter at every stamp it
// writes and MACs it with the stamp.
func (s *state) stepApp(id cardID, r *record.Record, out Outcome, u *undo) decision {
	sh := s.shardOf(&id)
	t, ok := sh.apps[id]
	switch {
	case !ok:
		nt := newTrack()
		t = &nt
		sh.apps[id] = t
		if u != nil {
			u.apps.created = append(u.apps.created, id)
		}
	case u != nil:
		u.apps.save(id, t)
	}
	d := decision{class: ClassApplication}
	switch sa, _ := t.see(uint32(r.Counter), noBalance); sa {
	case seenRepeat:
		return decision{class: ClassDuplicate}
	case seenSkip:
		d.flags |= FlagAppCounterGap
	}
	d.flags |= s.flagsOf(out)
	return d
}

// appUndo is what a batch changed of the application counters.
type appUndo struct {
	saved   map[cardID]track // tracks as they were before the batch first changed them
	created []cardID         // tracks the batch created
}

// save keeps t as it was, the first time the batch changes it.
func (u *appUndo) save(id cardID, t *track) {
	if _, done := u.saved[id]; done {
		return
	}
	if u.saved == nil {
		u.saved = map[cardID]track{}
	}
	prev := *t
	prev.gaps = t.cloneGaps()
	u.saved[id] = prev
}

// restore puts the application counters back as they were.
func (u *appUndo) restore(s *state) {
	for id, prev := range u.saved {
		*s.shardOf(&id).apps[id] = prev
	}
	for _, id := range u.created {
		delete(s.shardOf(&id).apps, id)
	}
}

// reset empties u for reuse.
func (u *appUndo) reset() {
	clear(u.saved)
	u.created = u.created[:0]
}
