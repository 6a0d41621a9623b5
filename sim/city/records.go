package city

import (
	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/record"
)

// recKind is where a record in a queue came from.
type recKind uint8

// The kinds of record.
const (
	recGenuine recKind = iota // made by a card and a terminal in a tap or a load
	recForged                 // sealed by a PSAM, made by no card
	recAltered                // a genuine record changed after sealing
)

// simRec is the city's truth about one record that entered a terminal's
// queue, and what became of it.
type simRec struct {
	hash    uint64
	dev     int32
	card    int32 // the rider's index; -1 for a forged or altered record
	seq     uint32
	counter uint16
	amount  uint32
	status  record.Status
	typ     uint8
	kind    recKind
	// committed: the card committed this debit (or load); a grey record's
	// is read from the card after the tear.
	committed bool
	// ackedLocal: the terminal itself dropped it from its queue (a grey
	// record replaced by the complete or recovered one).
	ackedLocal bool
	answer     acquire.Verdict // the answer to its terminal's own upload
	// What the stores hold of it, filled by the checks.
	booked, suspense, recovered, loads, dups, rejections int32
	suspensePos                                          int64
}

// hashRec is FNV-1a over a record's bytes: the key the city finds its
// records by in answers, the journal and the rejection journal.
func hashRec(raw []byte) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	for _, b := range raw {
		h = (h ^ uint64(b)) * prime
	}
	return h
}

func (c *City) addRec(r simRec) int32 {
	if _, dup := c.byHash[r.hash]; dup {
		// Two records of one hash would confuse every check below.
		c.violate("two queued records hash alike (terminal %v, sequence %d): the checks cannot tell them apart", c.devs[r.dev].id, r.seq)
		return -1
	}
	i := int32(len(c.recs))
	c.recs = append(c.recs, r)
	c.byHash[r.hash] = i
	return i
}

// spool is a terminal's Spool: its queue on disk, telling the city what
// the terminal queued and what it dropped itself.
type spool struct {
	c *City
	d *device
}

func (s *spool) Append(rec []byte) (uint64, error) {
	seq, err := s.d.queue.Append(rec)
	if err != nil {
		return seq, err
	}
	s.c.noteSpooled(s.d, seq, rec)
	return seq, nil
}

func (s *spool) Ack(seqs ...uint64) error {
	if err := s.d.queue.Ack(seqs...); err != nil {
		return err
	}
	c := s.c
	for _, q := range seqs {
		if p := c.pendingGrey; p != nil && p.dev == s.d && p.qseq == q {
			// The tap's own grey record, replaced by the complete one:
			// the city need not remember it.
			c.pendingGrey = nil
			continue
		}
		k := uint64(s.d.idx)<<40 | q
		if i, ok := s.c.greyQ[k]; ok {
			s.c.recs[i].ackedLocal = true
			delete(s.c.greyQ, k)
		}
	}
	return nil
}

// noteSpooled records a record the terminal queued during the current
// rider's tap or load.
func (c *City) noteSpooled(d *device, qseq uint64, raw []byte) {
	r, err := record.DecodeBinary(raw)
	if err != nil {
		c.violate("terminal %v queued a record that does not decode: %v", d.id, err)
		return
	}
	if c.cur < 0 || c.riders[c.cur].asn != r.ASN {
		c.violate("terminal %v queued a record of card %v while card %v was tapping", d.id, r.ASN, c.riderASN(c.cur))
	}
	sr := simRec{hash: hashRec(raw), dev: int32(d.idx), card: c.cur, seq: r.TerminalSeq, counter: r.Counter, amount: r.Amount,
		status: r.Status, typ: r.Type, kind: recGenuine, committed: r.Status != record.StatusGrey}
	if r.Status == record.StatusGrey {
		// Every purchase spools its grey record before DEBIT and drops
		// it once the complete one is spooled: kept only if it stays.
		c.keepGrey()
		c.pendingGrey = &pendingGrey{dev: d, qseq: qseq, rec: sr}
		return
	}
	c.addRec(sr)
}

// pendingGrey is the grey record of the tap in progress.
type pendingGrey struct {
	dev  *device
	qseq uint64
	rec  simRec
}

// keepGrey remembers the tap's grey record, if its terminal kept it (the
// card tore): after each tap.
func (c *City) keepGrey() {
	p := c.pendingGrey
	if p == nil {
		return
	}
	c.pendingGrey = nil
	if i := c.addRec(p.rec); i >= 0 {
		c.greyQ[uint64(p.dev.idx)<<40|p.qseq] = i
	}
}

func (c *City) riderASN(ri int32) string {
	if ri < 0 {
		return "none"
	}
	return c.riders[ri].asn.String()
}

// noteGrey records whether the card committed the torn debit of grey:
// its offline counter moved past the grey record's only if it did.
func (c *City) noteGrey(r *rider, grey *record.Record) {
	raw, err := grey.MarshalBinary()
	if err != nil {
		c.violate("card %v: the grey record does not encode: %v", r.asn, err)
		return
	}
	i, ok := c.byHash[hashRec(raw)]
	if !ok {
		c.violate("card %v: the terminal returned a grey record (sequence %d) it never queued", r.asn, grey.TerminalSeq)
		return
	}
	st := r.card.State()
	r.greyed = true
	c.recs[i].committed = st.OfflineCounter > grey.Counter
	r.balance = st.BalanceFen
	c.fig.Greys++
	if c.recs[i].committed {
		c.fig.GreysCommitted++
	}
}

// noteAnswers keeps the back office's answers to a batch of d: its own
// upload's, or a copy's (the simulator's duplicate and reordered sends).
// A genuine record rejected, or a forged one not, is a violation at once.
func (c *City) noteAnswers(d *device, recs [][]byte, ans *acquire.Answer, copied bool) {
	for k, raw := range recs {
		ra := ans.Records[k]
		i, ok := c.byHash[hashRec(raw)]
		if !ok && c.noteAppAnswer(d, raw, ra, copied, ans.BatchID, k) {
			continue // a bike dock's stamp (bikes.go)
		}
		if !ok {
			c.violate("terminal %v uploaded a record it never queued (batch %s, index %d)", d.id, ans.BatchID, k)
			continue
		}
		sr := &c.recs[i]
		if copied {
			c.fig.Copies.Verdicts[ra.Status]++
		} else {
			c.fig.Verdicts[ra.Status]++
			if sr.answer == 0 {
				sr.answer = ra.Verdict
			}
			switch ra.Verdict {
			case acquire.Flagged:
				for _, f := range ra.Reasons {
					c.fig.Flags[f]++
					switch {
					case f == "clock" && exitBeforeEntry(raw):
						c.fig.ClockExitBeforeEntry++
					case f == "fare_mismatch":
						c.fig.FareMismatch[d.kind.String()]++
					}
				}
			case acquire.Rejected:
				if len(ra.Reasons) > 0 {
					c.fig.Rejections[ra.Reasons[0]]++
				}
			}
		}
		switch {
		case ra.Verdict == 0:
			c.violate("terminal %v batch %s record %d: no verdict (%q)", d.id, ans.BatchID, k, ra.Status)
		case sr.kind == recGenuine && ra.Verdict == acquire.Rejected:
			c.violate("card %v: a genuine record (terminal %v, sequence %d, %v) was rejected: %v", c.riderASN(sr.card), d.id, sr.seq, sr.status, ra.Reasons)
		case sr.kind != recGenuine && ra.Verdict != acquire.Rejected:
			c.violate("terminal %v: a %s record (sequence %d) was answered %s", d.id, kindName(sr.kind), sr.seq, ra.Status)
		}
	}
}

// exitBeforeEntry reports whether raw is a tap-off record whose time is
// before its entry's: a terminal's clock was wrong.
func exitBeforeEntry(raw []byte) bool {
	r, err := record.DecodeBinary(raw)
	if err != nil || r.EntryDate == (citycard.BCDDate{}) {
		return false
	}
	return r.EntryDate.String()+r.EntryTime.String() > r.Date.String()+r.Time.String()
}

func kindName(k recKind) string {
	return [...]string{"genuine", "forged", "altered"}[k]
}

// tapKey names a tap: its terminal and the terminal sequence its PSAM
// gave it. A tap's records (grey, complete, recovered) share it.
func tapKey(dev int32, seq uint32) uint64 { return uint64(dev)<<32 | uint64(seq) }
