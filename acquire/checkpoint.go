package acquire

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"

	"github.com/citycard/citycard"
)

// The state is checkpointed in parts, one part at a time, so that no
// checkpoint stops the sequencer for long: part p < N is card shard p, part
// N the terminals' sequences (N shards, N+1 parts). Each part records the
// journal position it includes; at start each part is loaded and the
// journal replayed from the oldest part's position, each entry applied only
// to the parts that do not include it yet.
//
// The layout of a part, version 6: every integer an unsigned or signed
// varint, ids raw bytes.
//
//	magic "CCKP" | version 4 | part | parts | terminals: n, then n × (ID(6) | track)
//	| cards: n, then n × (issuer(8) | ASN(10) | offline track | online track |
//	lastAfter | loadsSince | booked | reported | floorBefore | lastLoad |
//	greys: n, then n × (pos | counter | terminal(6) | seq | amount |
//	before | product | prevAfter | prevLoads | prevLast | confirmed))
//	| application counters: n, then n × (issuer(8) | ASN(10) | track)
//
// A track is floor | last (signed) | n, then n × (lo | hi | after
// (signed: the balance after the span, noBalance if not known)).
// Version 3 added after and confirmed, version 4 lastLoad, version 5 the
// application counters, version 6 the grey's journal position (pos); a
// checkpoint of another version is
// dropped, and the state replayed from the journal. A card part
// has no terminal and the terminals' part no card. Cards and terminals are
// written sorted, so that the same state always encodes to the same bytes.
const checkpointVersion = 6

// parts is the number of checkpoint parts of the state.
func (s *state) parts() int { return len(s.shards) + 1 }

// termsPart is the part that holds the terminals' sequences.
func (s *state) termsPart() int { return len(s.shards) }

var checkpointMagic = []byte("CCKP")

// encodePart encodes part p of the state.
func (s *state) encodePart(p int) []byte {
	b := append([]byte(nil), checkpointMagic...)
	b = binary.AppendUvarint(b, checkpointVersion)
	b = binary.AppendUvarint(b, uint64(p))
	b = binary.AppendUvarint(b, uint64(s.parts()))
	tids := make([]citycard.TerminalID, 0, len(s.terms))
	if p == s.termsPart() {
		for id := range s.terms {
			tids = append(tids, id)
		}
	}
	slices.SortFunc(tids, func(x, y citycard.TerminalID) int { return slices.Compare(x[:], y[:]) })
	b = binary.AppendUvarint(b, uint64(len(tids)))
	for _, id := range tids {
		b = append(b, id[:]...)
		b = appendTrack(b, s.terms[id])
	}
	var ids []cardID
	if p < len(s.shards) {
		ids = make([]cardID, 0, len(s.shards[p].cards))
		for id := range s.shards[p].cards {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, compareCards)
	b = slices.Grow(b, len(ids)*48)
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		c, _ := s.card(id)
		b = append(b, id.issuer[:]...)
		b = append(b, id.asn[:]...)
		b = appendTrack(b, &c.offline)
		b = appendTrack(b, &c.online)
		b = binary.AppendVarint(b, c.lastAfter)
		b = binary.AppendVarint(b, c.loadsSince)
		b = binary.AppendVarint(b, c.booked)
		b = binary.AppendVarint(b, c.reported)
		b = binary.AppendVarint(b, c.floorBefore)
		b = binary.AppendUvarint(b, c.lastLoad)
		b = binary.AppendUvarint(b, uint64(len(c.greyList())))
		for _, g := range c.greyList() {
			b = binary.AppendUvarint(b, uint64(g.pos))
			b = binary.AppendUvarint(b, uint64(g.counter))
			b = append(b, g.terminal[:]...)
			b = binary.AppendUvarint(b, uint64(g.seq))
			b = binary.AppendUvarint(b, uint64(g.amount))
			b = binary.AppendUvarint(b, uint64(g.before))
			b = binary.AppendUvarint(b, uint64(g.product))
			b = binary.AppendVarint(b, g.prevAfter)
			b = binary.AppendVarint(b, g.prevLoads)
			b = binary.AppendVarint(b, g.prevLast)
			confirmed := uint64(0)
			if g.confirmed {
				confirmed = 1
			}
			b = binary.AppendUvarint(b, confirmed)
		}
	}
	var apps []cardID
	if p < len(s.shards) {
		for id := range s.shards[p].apps {
			apps = append(apps, id)
		}
	}
	slices.SortFunc(apps, compareCards)
	b = binary.AppendUvarint(b, uint64(len(apps)))
	for _, id := range apps {
		b = append(b, id.issuer[:]...)
		b = append(b, id.asn[:]...)
		b = appendTrack(b, s.shards[p].apps[id])
	}
	return b
}

func appendTrack(b []byte, t *track) []byte {
	b = binary.AppendVarint(b, t.floor)
	b = binary.AppendVarint(b, t.last)
	b = binary.AppendUvarint(b, uint64(len(t.spans())))
	for _, sp := range t.spans() {
		b = binary.AppendUvarint(b, uint64(sp.lo))
		b = binary.AppendUvarint(b, uint64(sp.hi))
		b = binary.AppendVarint(b, sp.after)
	}
	return b
}

// reader decodes a checkpoint, remembering the first error.
type reader struct {
	b   []byte
	off int
	err error
}

var errShort = errors.New("truncated")

func (r *reader) fail(what string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("checkpoint: %s at offset %d: %w", what, r.off, err)
	}
}

func (r *reader) uvarint(what string, max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail(what, errShort)
		return 0
	}
	if v > max {
		r.fail(what, fmt.Errorf("%d is over %d", v, max))
		return 0
	}
	r.off += n
	return v
}

func (r *reader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail(what, errShort)
		return 0
	}
	r.off += n
	return v
}

func (r *reader) bytes(what string, dst []byte) {
	if r.err != nil {
		return
	}
	if len(r.b)-r.off < len(dst) {
		r.fail(what, errShort)
		return
	}
	r.off += copy(dst, r.b[r.off:])
}

// track reads a track; what names it in errors (a constant: this runs
// millions of times).
func (r *reader) track(what string) track {
	t := track{floor: r.varint(what), last: r.varint(what)}
	n := r.uvarint(what, maxSpans)
	var g gaps
	for i := uint64(0); i < n && r.err == nil; i++ {
		lo := r.uvarint(what, 1<<32-1)
		hi := r.uvarint(what, 1<<32-1)
		g = append(g, span{uint32(lo), uint32(hi), r.varint(what)})
	}
	t.setSpans(g)
	return t
}

// decode fills the part a checkpoint holds into a state with that part
// empty, and returns the part. Kind Invalid, naming the offset, for
// anything malformed, a part of a state of another shard count, or a card
// in a shard not its own.
func (s *state) decode(b []byte) (int, error) {
	const op = "acquire.state.decode"
	if len(b) < len(checkpointMagic) || string(b[:len(checkpointMagic)]) != string(checkpointMagic) {
		return 0, citycard.E(op, citycard.Invalid, "checkpoint: no magic")
	}
	r := &reader{b: b, off: len(checkpointMagic)}
	if v := r.uvarint("version", 1<<16); r.err == nil && v != checkpointVersion {
		return 0, citycard.E(op, citycard.Invalid, "checkpoint version %d, want %d", v, checkpointVersion)
	}
	part := int(r.uvarint("part", uint64(s.parts()-1)))
	if parts := r.uvarint("parts", 1<<16); r.err == nil && parts != uint64(s.parts()) {
		return 0, citycard.E(op, citycard.Invalid, "checkpoint of a state of %d parts, this one has %d (the shard count changed)", parts, s.parts())
	}
	// IDs come sorted and once each, as encode writes them.
	nt := r.uvarint("terminal count", uint64(len(b)))
	if nt > 0 && part != s.termsPart() {
		r.fail("terminal count", fmt.Errorf("%d terminals in card part %d", nt, part))
	}
	var prevT citycard.TerminalID
	for i := uint64(0); i < nt && r.err == nil; i++ {
		var id citycard.TerminalID
		r.bytes("terminal ID", id[:])
		if i > 0 && slices.Compare(id[:], prevT[:]) <= 0 {
			r.fail("terminal ID", fmt.Errorf("%v after %v: not sorted", id, prevT))
		}
		prevT = id
		t := r.track("terminal sequence")
		s.terms[id] = &t
	}
	nc := r.uvarint("card count", uint64(len(b)))
	if nc > 0 && part == s.termsPart() {
		r.fail("card count", fmt.Errorf("%d cards in the terminals' part", nc))
	}
	// The map sized once (a card takes 29 bytes at least, which bounds
	// the count a corrupt header could claim): decoding a shard of
	// millions of cards is then a matter of seconds.
	if part < len(s.shards) && len(s.shards[part].cards) == 0 {
		s.shards[part].cards = make(map[cardID]*shadow, int(min(nc, uint64(len(b))/29)))
	}
	var prevC cardID
	for i := uint64(0); i < nc && r.err == nil; i++ {
		var id cardID
		r.bytes("issuer", id.issuer[:])
		r.bytes("ASN", id.asn[:])
		if i > 0 && compareCards(id, prevC) <= 0 {
			r.fail("card", fmt.Errorf("%v/%v after %v/%v: not sorted", id.issuer, id.asn, prevC.issuer, prevC.asn))
		}
		if r.err == nil && Shard(id.issuer, id.asn, len(s.shards)) != part {
			r.fail("card", fmt.Errorf("%v/%v is not of shard %d", id.issuer, id.asn, part))
		}
		prevC = id
		c := &shadow{}
		c.offline, c.online = r.track("offline counter"), r.track("online counter")
		c.lastAfter = r.varint("last balance")
		c.loadsSince = r.varint("loads since")
		c.booked = r.varint("booked")
		c.reported = r.varint("reported")
		c.floorBefore = r.varint("floor balance")
		c.lastLoad = r.uvarint("last load", math.MaxUint64)
		ng := r.uvarint("grey count", 1<<16)
		for k := uint64(0); k < ng && r.err == nil; k++ {
			var g greyRef
			g.pos = int64(r.uvarint("grey position", math.MaxInt64))
			g.counter = uint16(r.uvarint("grey counter", 1<<16-1))
			r.bytes("grey terminal", g.terminal[:])
			g.seq = uint32(r.uvarint("grey seq", 1<<32-1))
			g.amount = uint32(r.uvarint("grey amount", 1<<32-1))
			g.before = uint32(r.uvarint("grey balance", 1<<32-1))
			g.product = uint16(r.uvarint("grey product", 1<<16-1))
			g.prevAfter = r.varint("grey previous balance")
			g.prevLoads = r.varint("grey previous loads")
			g.prevLast = r.varint("grey previous counter")
			g.confirmed = r.uvarint("grey confirmed", 1) == 1
			c.setGreys(append(c.greyList(), g))
		}
		if r.err == nil {
			s.shards[part].cards[id] = c
		}
	}
	na := r.uvarint("application count", uint64(len(b)))
	if na > 0 && part == s.termsPart() {
		r.fail("application count", fmt.Errorf("%d application counters in the terminals' part", na))
	}
	for i := uint64(0); i < na && r.err == nil; i++ {
		var id cardID
		r.bytes("issuer", id.issuer[:])
		r.bytes("ASN", id.asn[:])
		if i > 0 && compareCards(id, prevC) <= 0 {
			r.fail("application card", fmt.Errorf("%v/%v after %v/%v: not sorted", id.issuer, id.asn, prevC.issuer, prevC.asn))
		}
		if r.err == nil && Shard(id.issuer, id.asn, len(s.shards)) != part {
			r.fail("application card", fmt.Errorf("%v/%v is not of shard %d", id.issuer, id.asn, part))
		}
		prevC = id
		t := r.track("application counter")
		if r.err == nil {
			s.shards[part].apps[id] = &t
		}
	}
	if r.err == nil && r.off != len(b) {
		r.fail("end", fmt.Errorf("%d bytes left over", len(b)-r.off))
	}
	if r.err != nil {
		return 0, citycard.E(op, citycard.Invalid, "%w", r.err)
	}
	return part, nil
}

// compareCards orders cards by issuer code, then ASN, as big-endian
// numbers: the order of the checkpoint.
func compareCards(x, y cardID) int {
	if c := cmp.Compare(binary.BigEndian.Uint64(x.issuer[:]), binary.BigEndian.Uint64(y.issuer[:])); c != 0 {
		return c
	}
	if c := cmp.Compare(binary.BigEndian.Uint16(x.asn[:2]), binary.BigEndian.Uint16(y.asn[:2])); c != 0 {
		return c
	}
	return cmp.Compare(binary.BigEndian.Uint64(x.asn[2:]), binary.BigEndian.Uint64(y.asn[2:]))
}
