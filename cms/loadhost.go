package cms

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/terminal"
)

// CardKeys is what the load host needs of the key store: a card's keys,
// derived from the issuer master key of a type and version by the card's
// ASN (keys.Store has it).
type CardKeys interface {
	DeriveInto(dst *[keys.KeyLen]byte, ref keys.Ref, path ...[]byte) (keys.Alg, error)
}

// CardRecords is what the load host needs of acquisition's card shadows:
// the highest online counter seen in a card's uploaded records (ok false
// for a card with none). acquire.Acquirer implements it.
type CardRecords interface {
	OnlineCounter(issuer citycard.IssuerCode, asn citycard.ASN) (counter uint16, ok bool)
}

// cardLocks is the number of locks the load host serializes cards on (by
// acquire's shard function, so that a card's lock is a fact of the card).
const cardLocks = 4096

// LoadHost is the issuer's online load host (圈存, DESIGN.md's flow 1):
// it checks a card's MAC1, books the load through the Manager's store and
// answers MAC2; the card's TAC, forwarded by the terminal, confirms it
// (see the package doc, "Online loads").
type LoadHost struct {
	m       *Manager
	keys    CardKeys
	records CardRecords
	locks   [cardLocks]sync.Mutex
	// ConfirmLater, when set and the Manager's store is a GroupCommit,
	// makes Confirm answer once the TAC verifies, its write joining the
	// next group commit (GroupCommit.CommitLater) instead of waiting for
	// it: a load's one wait for the disk is then its authorization. A
	// confirmation lost to a crash leaves the load unconfirmed, settled as
	// one whose TAC never came (the card's next session or records);
	// ConfirmLater is told the error of a confirmation whose write failed.
	ConfirmLater func(error)
	// claims checks a load through channel TopUpClaim (a remote top-up
	// claimed on the card) before it is booked, under the card's lock;
	// NewTopUps sets it (see claim, topup.go).
	claims func(ctx context.Context, c *Card, s *LoadSession, ch Channel) error
	// reinstated says which account a reversed claim's late TAC books
	// the load from, with the entry's memo; NewTopUps sets it (see
	// TopUps.reinstateFrom). nil: the channel's account.
	reinstated func(ctx context.Context, l *OnlineLoad) (ledger.Account, string, error)
}

// laterCommitter is the store of a host that confirms later (GroupCommit).
type laterCommitter interface {
	CommitLater(ctx context.Context, op *Operation, done func(CommitResult))
}

// NewLoadHost returns the load host over m, checking MACs under the card
// keys ks derives, settling unconfirmed loads from records (nil: only
// from the card's next load).
func NewLoadHost(m *Manager, ks CardKeys, records CardRecords) *LoadHost {
	return &LoadHost{m: m, keys: ks, records: records}
}

// lock returns the lock of a card.
func (h *LoadHost) lock(issuer citycard.IssuerCode, asn citycard.ASN) *sync.Mutex {
	const offset, prime = 14695981039346656037, 1099511628211
	x := uint64(offset)
	for _, b := range issuer {
		x = (x ^ uint64(b)) * prime
	}
	for _, b := range asn {
		x = (x ^ uint64(b)) * prime
	}
	return &h.locks[x%cardLocks]
}

// proof computes the session's MAC1, MAC2 and TAC under the card's load
// and TAC keys of the session's key version. Kinds KeyMissing (no such
// key version), Invalid (the card's algorithm is not the key's).
func (h *LoadHost) proof(op string, s *LoadSession) (keys.Proof, error) {
	var dlk, dtk [keys.KeyLen]byte
	div := s.ASN.Div()
	for _, k := range []struct {
		typ keys.KeyType
		dst *[keys.KeyLen]byte
	}{{keys.KeyLoad, &dlk}, {keys.KeyTAC, &dtk}} {
		ref := keys.Ref{Issuer: s.Issuer, Type: k.typ, Version: s.KeyVersion}
		alg, err := h.keys.DeriveInto(k.dst, ref, div)
		if err != nil {
			return keys.Proof{}, citycard.Wrap(op, citycard.Other, err)
		}
		if alg != s.Alg {
			return keys.Proof{}, citycard.E(op, citycard.Invalid, "card %v/%v says algorithm %v, key %v is %v", s.Issuer, s.ASN, s.Alg, ref, alg)
		}
	}
	pr, err := keys.LoadProof(s.Alg, dlk[:], dtk[:], &s.Load)
	return pr, citycard.Wrap(op, citycard.Other, err)
}

// Authorize is the host's answer to a card's INITIALIZE FOR LOAD: it
// checks MAC1 under the card's load key of the session's key version,
// settles the card's unconfirmed load if it has one (from this session's
// online counter), books the load paid through ch (a retry of the session
// answers the first booking, booking nothing) and returns MAC2. The
// balance cap is checked against the balance the card reported under
// MAC1, the daily limit against the day's online loads (China time).
// Loads of one card are serialized.
//
// Kinds Invalid (the actor, the channel, a transaction type not a load,
// the algorithm, the per-load limit), Crypto (MAC1 does not verify),
// KeyMissing (no key of that version), NotFound (no such card), Conflict
// (the card is lost, closed or otherwise not issued or active; the cap or
// the daily limit; the session's key used for another request; a session
// older than the card's unconfirmed load; a retry of a load since
// reversed; a closed card's session, which leaves its unconfirmed load
// alone), IO.
func (h *LoadHost) Authorize(ctx context.Context, by Actor, ch Channel, s *LoadSession, mac1 [4]byte) ([4]byte, error) {
	const op = "cms.LoadHost.Authorize"
	if err := by.check(op); err != nil {
		return [4]byte{}, err
	}
	if err := ch.check(op); err != nil {
		return [4]byte{}, err
	}
	if s.Load.Type != citycard.TxLoad {
		return [4]byte{}, citycard.E(op, citycard.Invalid, "card %v/%v: transaction type %02X is not a load", s.Issuer, s.ASN, s.Load.Type)
	}
	pr, err := h.proof(op, s)
	if err != nil {
		return [4]byte{}, err
	}
	if !keys.Equal4(pr.MAC1, mac1) {
		return [4]byte{}, citycard.E(op, citycard.Crypto, "card %v/%v: MAC1 of the load does not verify under key version %d", s.Issuer, s.ASN, s.KeyVersion)
	}
	mu := h.lock(s.Issuer, s.ASN)
	mu.Lock()
	defer mu.Unlock()
	st := h.m.store
	key, in := LoadKey(s), loadInputHash(s, ch)
	// The card, its open load and the day's loads in one read; the day is
	// read again if the booking's falls on the next, or a settlement
	// reversed a load of it.
	from, to := chinaDay(h.m.now())
	cl, err := st.CardLoads(ctx, s.Issuer, s.ASN, from, to)
	if err != nil {
		return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
	}
	c, loaded := cl.Card, cl.LoadedFen
	p, err := h.m.products.Product(c.Product)
	if err != nil {
		return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
	}
	// The card's unconfirmed load: this session's own (a retry, answered
	// again), or an earlier one, settled by this session's counter. A
	// retry of a load settled already is found by the commit (its key).
	reread := false
	if open := cl.Open; open != nil {
		if open.Key == key {
			return pr.MAC2, h.replay(ctx, op, open, in)
		}
		// A retry of an older session, settled since, must not settle
		// the card's newer one.
		if booked, err := h.replayKey(ctx, op, key, in); booked {
			return pr.MAC2, err
		} else if err != nil {
			return [4]byte{}, err
		}
		// A closed card's balance was reckoned with its unconfirmed load
		// in it (refunded, or moved to its replacement): reversing it now
		// would pay it back a second time (the finder of a lost card at a
		// kiosk). It stays unconfirmed.
		if c.State == Closed {
			return [4]byte{}, citycard.E(op, citycard.Conflict, "card %v is closed: its unconfirmed load %s was reckoned in its balance when it closed", &c, open.Key)
		}
		reread = s.Load.OnlineCounter == open.Counter // the open load reversed
		if c, err = h.settleBySession(ctx, op, by, c, open, s.Load.OnlineCounter); err != nil {
			return [4]byte{}, err
		}
	} else if cl.Credited && s.Load.OnlineCounter <= cl.CreditedCounter {
		// The card credited a load at this counter or past it, so its
		// counter has moved on: a session the card began before that
		// load's, reaching the host after it (two readers on one card), or
		// a retry of that load's own session, answered again.
		if booked, err := h.replayKey(ctx, op, key, in); booked {
			return pr.MAC2, err
		} else if err != nil {
			return [4]byte{}, err
		}
		return [4]byte{}, citycard.E(op, citycard.Conflict, "card %v answered online counter %d, but it credited a load at counter %d: an old session", &c, s.Load.OnlineCounter, cl.CreditedCounter)
	}
	if err := h.claim(ctx, op, &c, s, ch); err != nil {
		return [4]byte{}, err
	}
	at := h.m.now()
	if !at.Before(to) || reread {
		from, to = chinaDay(at)
		if loaded, err = st.LoadedFen(ctx, s.Issuer, s.ASN, from, to); err != nil {
			return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
		}
	}
	l := Load{Key: key, Card: &c, Product: p, Channel: ch, AmountFen: int64(s.Load.Amount), BalanceFen: int64(s.Load.BalanceBefore), LoadedTodayFen: loaded}
	b, err := l.Book()
	if err != nil {
		return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
	}
	b.InputHash = in
	moved := touched(c)
	if c.State == Issued {
		next, err := c.Move(p, Activate, at)
		if err != nil {
			return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
		}
		moved = &next
	}
	ol := &OnlineLoad{Key: key, Issuer: s.Issuer, ASN: s.ASN, Counter: s.Load.OnlineCounter, AmountFen: l.AmountFen,
		BalanceBeforeFen: l.BalanceFen, Terminal: s.Load.TerminalID, KeyVersion: s.KeyVersion, Alg: s.Alg, Channel: ch,
		AuthorizedAt: at, Status: LoadUnconfirmed}
	replayed, err := st.Commit(ctx, &Operation{Booking: &b, At: at, Cards: []*Card{moved}, Loads: []*OnlineLoad{ol},
		Audit: h.m.moneyAudit(by, at, loadAction(ch), &c, moved, &b)})
	if err != nil {
		return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
	}
	if replayed { // a retry of a load settled since: confirmed, or reversed
		prev, err := st.OnlineLoad(ctx, key)
		if err != nil {
			return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
		}
		return pr.MAC2, h.replay(ctx, op, &prev, in)
	}
	return pr.MAC2, nil
}

// chinaDay returns the China day of t, [from, to): the daily limit's.
func chinaDay(t time.Time) (from, to time.Time) {
	day := t.In(citycard.ChinaTime)
	from = time.Date(day.Year(), day.Month(), day.Day(), 0, 0, 0, 0, citycard.ChinaTime)
	return from, from.AddDate(0, 0, 1)
}

// replay answers a retry of a session booked before: the same request
// (its input hash) is answered again unless the load has been reversed
// since.
func (h *LoadHost) replay(ctx context.Context, op string, prev *OnlineLoad, in [32]byte) error {
	hash, err := h.m.store.OperationHash(ctx, prev.Key)
	switch {
	case err != nil:
		return citycard.Wrap(op, citycard.Other, err)
	case hash != in:
		return citycard.E(op, citycard.Conflict, "idempotency key %q was used for another request", prev.Key)
	case prev.Status == LoadReversed:
		return citycard.E(op, citycard.Conflict, "load %s of card %s was reversed: the card began another load at online counter %d", prev.Key, prev.Card(), prev.Counter)
	}
	return nil
}

// replayKey answers a retry of the load session of key if it was booked
// (booked true; replay's check of its input, and the caller answers its
// MAC2 again); false, nil for a session never booked; the store's kinds
// wrapped in op's name.
func (h *LoadHost) replayKey(ctx context.Context, op, key string, in [32]byte) (booked bool, err error) {
	prev, err := h.m.store.OnlineLoad(ctx, key)
	switch {
	case err == nil:
		return true, h.replay(ctx, op, &prev, in)
	case citycard.IsKind(err, citycard.NotFound):
		return false, nil
	}
	return false, citycard.Wrap(op, citycard.Other, err)
}

// settleBySession settles a card's unconfirmed load from the online
// counter of the card's next session: a counter past the load's shows the
// card credited it (its counter moves only on a credit); the same counter
// shows it never did, and as the card's new INITIALIZE FOR LOAD replaced
// the old session's key, it never will: the load is reversed. A counter
// below the load's is a session older than the load's (kind Conflict).
// It returns the card as the settlement left it.
func (h *LoadHost) settleBySession(ctx context.Context, op string, by Actor, c Card, open *OnlineLoad, counter uint16) (Card, error) {
	switch {
	case counter > open.Counter:
		return c, h.confirm(ctx, op, by, open, SettledByNextLoad)
	case counter < open.Counter:
		return c, citycard.E(op, citycard.Conflict, "card %v answered online counter %d, below its unconfirmed load's %d: an old session", &c, counter, open.Counter)
	}
	e, err := h.m.store.LedgerEntry(ctx, LoadEntryKey(open.Key))
	if err != nil {
		return c, citycard.Wrap(op, citycard.Other, err)
	}
	at := h.m.now()
	r := LoadReversal{Card: &c, Load: open, Entry: &e}
	b, err := r.Book()
	if err != nil {
		return c, citycard.Wrap(op, citycard.Other, err)
	}
	settled := *open
	settled.Status, settled.SettledAt, settled.Settlement = LoadReversed, at, SettledByNewSession
	moved := touched(c)
	if _, err := h.m.store.Commit(ctx, &Operation{Booking: &b, At: at, Cards: []*Card{moved}, Loads: []*OnlineLoad{&settled},
		Audit: h.m.moneyAudit(by, at, "reverse load", &c, moved, &b)}); err != nil {
		return c, citycard.Wrap(op, citycard.Other, err)
	}
	return *moved, nil
}

// confirm records an unconfirmed load as confirmed, how: no money moves
// (it was booked at Authorize), so no operation key: the load's row,
// settled once (the store refuses a second settlement), and an audit
// record.
func (h *LoadHost) confirm(ctx context.Context, op string, by Actor, l *OnlineLoad, how string) error {
	at := h.m.now()
	settled := *l
	settled.Status, settled.SettledAt, settled.Settlement = LoadConfirmed, at, how
	a := h.m.audit(by, at, "card:"+l.Card(), "confirm load", l.snapshot(), settled.snapshot())
	o := &Operation{At: at, Loads: []*OnlineLoad{&settled}, Audit: a}
	if lc, ok := h.m.store.(laterCommitter); ok && h.ConfirmLater != nil && how == SettledByTAC {
		lc.CommitLater(ctx, o, func(r CommitResult) {
			if r.Err != nil {
				h.ConfirmLater(citycard.Wrap(op, citycard.Other, r.Err))
			}
		})
		return nil
	}
	_, err := h.m.store.Commit(ctx, o)
	return citycard.Wrap(op, citycard.Other, err)
}

// Confirm takes the card's TAC of a load the host authorized, forwarded by
// the terminal: it checks it under the card's TAC key and records the load
// as confirmed. A TAC of a load confirmed already is answered again.
// Kinds Crypto (the TAC does not verify), KeyMissing, NotFound (no load of
// that session was authorized here), Conflict (the session's amount or
// balance is not the load's), Invalid, IO. The TAC of a load reversed
// meanwhile reinstates it (see reinstate).
func (h *LoadHost) Confirm(ctx context.Context, by Actor, s *LoadSession, tac [4]byte) error {
	const op = "cms.LoadHost.Confirm"
	if err := by.check(op); err != nil {
		return err
	}
	pr, err := h.proof(op, s)
	if err != nil {
		return err
	}
	if !keys.Equal4(pr.TAC, tac) {
		return citycard.E(op, citycard.Crypto, "card %v/%v: TAC of the load does not verify", s.Issuer, s.ASN)
	}
	mu := h.lock(s.Issuer, s.ASN)
	mu.Lock()
	defer mu.Unlock()
	key := LoadKey(s)
	l, err := h.m.store.OnlineLoad(ctx, key)
	switch {
	case citycard.IsKind(err, citycard.NotFound):
		return citycard.E(op, citycard.NotFound, "card %v/%v: no load %s was authorized here", s.Issuer, s.ASN, key)
	case err != nil:
		return citycard.Wrap(op, citycard.Other, err)
	case l.AmountFen != int64(s.Load.Amount) || l.BalanceBeforeFen != int64(s.Load.BalanceBefore):
		return citycard.E(op, citycard.Conflict, "load %s: the TAC is of %d fen onto %d, the load authorized %d onto %d", key, s.Load.Amount, s.Load.BalanceBefore, l.AmountFen, l.BalanceBeforeFen)
	case l.Status == LoadConfirmed:
		return nil
	case l.Status == LoadReversed:
		return h.reinstate(ctx, op, by, &l)
	}
	return h.confirm(ctx, op, by, &l, SettledByTAC)
}

// reinstate books again a reversed load whose TAC came after all: the TAC
// proves the card credited it, so the session that reversed it had
// reached the host first while the card ran it second (two readers on one
// card). That later session's load, unconfirmed at the same counter, can
// no longer credit (the card's counter has moved past it): it is reversed
// first. The reinstatement books the load's money again whatever the
// card's state or limits: it is on the card. A remote top-up's claim
// books it from where the top-up's money is now (reinstated: the top-up
// pending account, or an error receivable once it has left it).
func (h *LoadHost) reinstate(ctx context.Context, op string, by Actor, l *OnlineLoad) error {
	c, err := h.m.store.Card(ctx, l.Issuer, l.ASN)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	open, err := h.m.store.OpenLoad(ctx, l.Issuer, l.ASN)
	switch {
	case err == nil && open.Counter == l.Counter:
		if c, err = h.settleBySession(ctx, op, by, c, &open, l.Counter); err != nil {
			return err
		}
	case err != nil && !citycard.IsKind(err, citycard.NotFound):
		return citycard.Wrap(op, citycard.Other, err)
	}
	from, memo := l.Channel.account(), ""
	if l.Channel.Type == TopUpClaim && h.reinstated != nil {
		if from, memo, err = h.reinstated(ctx, l); err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
	}
	at := h.m.now()
	key := "reinstate:" + l.Key
	b := Booking{Key: key, InputHash: inputHash("load_reinstatement", l.Key, l.AmountFen)}
	e, ok := entry(key, "load", ledger.EntryLoad, &c, ledger.Transfer(from, floatAccount(&c), l.AmountFen)...)
	e.Memo = memo
	b.add(e, ok)
	b.Flows = []Flow{{c.Issuer, c.ASN, FlowLoad, l.AmountFen}}
	b.through(l.Channel, l.AmountFen, l.AmountFen)
	settled := *l
	settled.Status, settled.SettledAt, settled.Settlement = LoadConfirmed, at, SettledByLateTAC
	moved := touched(c)
	_, err = h.m.store.Commit(ctx, &Operation{Booking: &b, At: at, Cards: []*Card{moved}, Loads: []*OnlineLoad{&settled},
		Audit: h.m.moneyAudit(by, at, "reinstate load", &c, moved, &b)})
	return citycard.Wrap(op, citycard.Other, err)
}

// SettlePage bounds the unconfirmed loads Settle reads at once.
const SettlePage = 512

// Settle confirms the unconfirmed loads whose card's uploaded records
// show its online counter at or past the load's (the card credited it:
// the counter moves only on a credit, and a card's other load at the same
// counter would have settled this one at Authorize). It returns how many
// it confirmed. A load the records do not settle yet stays unconfirmed,
// to be settled by the card's next load or its next records. Kinds of the
// store.
func (h *LoadHost) Settle(ctx context.Context, by Actor) (int, error) {
	const op = "cms.LoadHost.Settle"
	if err := by.check(op); err != nil {
		return 0, err
	}
	if h.records == nil {
		return 0, nil
	}
	n := 0
	for after := ""; ; {
		page, err := h.m.store.UnconfirmedLoads(ctx, after, SettlePage)
		if err != nil {
			return n, citycard.Wrap(op, citycard.Other, err)
		}
		for i := range page {
			l := &page[i]
			after = l.Key
			if seen, ok := h.records.OnlineCounter(l.Issuer, l.ASN); !ok || seen < l.Counter {
				continue
			}
			done, err := h.settleFromRecords(ctx, op, by, l.Key)
			if err != nil {
				return n, err
			}
			if done {
				n++
			}
		}
		if len(page) < SettlePage {
			return n, nil
		}
	}
}

// settleFromRecords confirms load key under its card's lock, if it is
// still unconfirmed.
func (h *LoadHost) settleFromRecords(ctx context.Context, op string, by Actor, key string) (bool, error) {
	l, err := h.m.store.OnlineLoad(ctx, key)
	if err != nil {
		return false, citycard.Wrap(op, citycard.Other, err)
	}
	mu := h.lock(l.Issuer, l.ASN)
	mu.Lock()
	defer mu.Unlock()
	if l, err = h.m.store.OnlineLoad(ctx, key); err != nil {
		return false, citycard.Wrap(op, citycard.Other, err)
	}
	if l.Status != LoadUnconfirmed {
		return false, nil
	}
	return true, h.confirm(ctx, op, by, &l, SettledByRecords)
}

// snapshot is a load as the audit log shows it.
func (l *OnlineLoad) snapshot() string {
	b, err := json.Marshal(struct {
		Key        string `json:"key"`
		Card       string `json:"card"`
		Counter    uint16 `json:"online_counter"`
		AmountFen  int64  `json:"amount_fen"`
		BeforeFen  int64  `json:"balance_before_fen"`
		Terminal   string `json:"terminal"`
		Status     string `json:"status"`
		Settlement string `json:"settlement,omitempty"`
	}{l.Key, l.Card(), l.Counter, l.AmountFen, l.BalanceBeforeFen, l.Terminal.String(), l.Status.String(), l.Settlement})
	if err != nil {
		panic(err) // strings and integers always encode
	}
	return string(b)
}

// TerminalHost is a LoadHost in the terminal's process, as terminal.Load
// takes it (terminal.LoadHost): every load by Actor, paid through
// Channel. Traces and tests use it; counters and kiosks reach the host
// over HTTP (api.LoadClient).
type TerminalHost struct {
	Host    *LoadHost
	Actor   Actor
	Channel Channel
}

var _ terminal.LoadHost = TerminalHost{}

func session(req terminal.LoadRequest) *LoadSession {
	return &LoadSession{Issuer: req.Issuer, ASN: req.ASN, KeyVersion: req.KeyVersion, Alg: req.Alg, Load: req.Load}
}

// AuthorizeLoad implements terminal.LoadHost (LoadHost.Authorize).
func (t TerminalHost) AuthorizeLoad(req terminal.LoadRequest) ([4]byte, error) {
	return t.Host.Authorize(context.Background(), t.Actor, t.Channel, session(req), req.MAC1)
}

// ConfirmLoad implements terminal.LoadHost (LoadHost.Confirm).
func (t TerminalHost) ConfirmLoad(req terminal.LoadRequest, tac [4]byte) error {
	return t.Host.Confirm(context.Background(), t.Actor, session(req), tac)
}
