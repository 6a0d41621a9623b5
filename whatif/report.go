package whatif

import (
	"slices"

	"github.com/citycard/citycard/fare"
)

// Report is a replay's answer: revenue as charged and under the new
// table, in total and per network, line, rider category and hour of day;
// how the change falls on cards; and what the replay left out or had to
// assume. Amounts are fen. Its JSON form (snake_case, amounts named
// _fen) is what the API answers.
type Report struct {
	From           string `json:"from"` // the first day replayed, YYYY-MM-DD
	To             string `json:"to"`   // the last
	DayCut         string `json:"day_cut"`
	NewFareVersion string `json:"new_fare_version"`
	OldFareVersion string `json:"old_fare_version,omitempty"` // set when the old table was re-priced too
	Currency       string `json:"currency"`
	// The journal positions read (journal_first_pos to journal_last_pos;
	// both 0 when none) and how many journaled records that was.
	JournalFirstPos int64 `json:"journal_first_pos"`
	JournalLastPos  int64 `json:"journal_last_pos"`
	RecordsRead     int64 `json:"records_read"`

	Totals
	// Cards with a record re-priced; of them, those with a record priced
	// differently (affected) and those whose sum is more, less or the
	// same under the new table.
	Cards         int64 `json:"cards"`
	CardsAffected int64 `json:"cards_affected"`
	CardsPayMore  int64 `json:"cards_pay_more"`
	CardsPayLess  int64 `json:"cards_pay_less"`
	CardsPaySame  int64 `json:"cards_pay_same"`

	ByNetwork       []NetworkRow  `json:"by_network"`
	ByLine          []LineRow     `json:"by_line"`
	ByRiderCategory []CategoryRow `json:"by_rider_category"`
	ByHour          []HourRow     `json:"by_hour"`         // 24 rows, 0 to 23
	ChangePerCard   []Band        `json:"change_per_card"` // BandEdges' bands, in order

	Skipped Skipped `json:"skipped"`
	Assumed Assumed `json:"assumed"`
}

// Totals are the sums of a set of re-priced records.
type Totals struct {
	Records        int64 `json:"records"`         // booked purchase records re-priced
	Legs           int64 `json:"legs"`            // of them, those ending a leg: boardings, tap-offs, plain purchases
	Journeys       int64 `json:"journeys"`        // of the legs, those beginning a journey under the new table (no transfer)
	RecordsChanged int64 `json:"records_changed"` // priced differently from what they charged
	OldFen         int64 `json:"old_fen"`         // what the records charged
	NewFen         int64 `json:"new_fen"`         // what the new table charges for them
	ChangeFen      int64 `json:"change_fen"`      // new_fen - old_fen
	// With an old table: what it charges for the same records when
	// replayed as the new one is, and how many records it prices other
	// than they charged (what the replay cannot know, or a fare that
	// changed since). Absent without one.
	RepricedOldFen      *int64 `json:"repriced_old_fen,omitempty"`
	RecordsUnreproduced *int64 `json:"records_unreproduced,omitempty"`
}

// NetworkRow is the totals of a network (the records' network code; its
// network_id in the new table, "" when it has none).
type NetworkRow struct {
	Network   uint16 `json:"network"`
	NetworkID string `json:"network_id"`
	Totals
}

// LineRow is the totals of a line of a network (the record's line: at a
// tap-off, the exit's). Other is true for the one row that sums the
// lines past MaxLines; its line is 0.
type LineRow struct {
	Network uint16 `json:"network"`
	Line    uint32 `json:"line"`
	RouteID string `json:"route_id"`
	Other   bool   `json:"other,omitempty"`
	Totals
}

// CategoryRow is the totals of a rider category (the record's code).
type CategoryRow struct {
	RiderCategory   uint8  `json:"rider_category"`
	RiderCategoryID string `json:"rider_category_id"`
	Totals
}

// HourRow is the totals of an hour of day, by the record's time.
type HourRow struct {
	Hour int `json:"hour"`
	Totals
}

// Band is a range of per-card change (new minus old over the replayed
// days), bounds included, in fen; a nil bound is open.
type Band struct {
	MinFen    *int64 `json:"min_fen"`
	MaxFen    *int64 `json:"max_fen"`
	Cards     int64  `json:"cards"`
	ChangeFen int64  `json:"change_fen"` // the sum of their changes
}

// BandEdges are the per-card change bands' upper bounds, in fen: up to
// -10.00 yuan, -9.99 to -1.00, -0.99 to -0.01, 0, 0.01 to 1.00, 1.01 to
// 5.00, and 5.01 on.
var BandEdges = [...]int64{-1000, -100, -1, 0, 100, 500}

// bandOf is the index of the band of change c.
func bandOf(c int64) int {
	for i, e := range BandEdges {
		if c <= e {
			return i
		}
	}
	return len(BandEdges)
}

// Skipped counts the booked purchase records of the replayed days that
// were not re-priced, and what they charged.
type Skipped struct {
	// Grey records in suspense: their debit is not revenue until a later
	// record confirms it (their recovered record, when it comes, is
	// re-priced).
	GreyRecords int64 `json:"grey_records"`
	GreyFen     int64 `json:"grey_fen"`
	// Records of a network the new table does not know (a shop's POS).
	NotInTableRecords int64 `json:"not_in_table_records"`
	NotInTableFen     int64 `json:"not_in_table_fen"`
	// Records a table refused to price (a station it does not know), with
	// the first refusal in journal order.
	UnpricedRecords int64  `json:"unpriced_records"`
	UnpricedFen     int64  `json:"unpriced_fen"`
	FirstUnpriced   string `json:"first_unpriced,omitempty"`
}

// Assumed counts the re-priced records for which the replay had to
// assume what the journal does not tell (see the package doc).
type Assumed struct {
	// Priced on their own, with no journey before them: the card's later
	// record was replayed first (uploaded long after it).
	LateRecords int64 `json:"late_records"`
	// Priced after a counter gap the replay bridged: the card's previous
	// record never came (a grey record, or one outside the journal read).
	AfterGapRecords int64 `json:"after_gap_records"`
	// Tap-offs whose tap-on was not replayed: the leg from the entry the
	// record carries, nothing paid at the tap-on.
	EntryFromRecord int64 `json:"entry_from_record"`
	// Composite purchases without an entry and no next record to tell a
	// tap-on from a boarding: a tap-on if nothing was due, else a
	// boarding.
	TapKindGuessed int64 `json:"tap_kind_guessed"`
	// Paid with a pass or count ticket: held that day, a ride left.
	HeldProducts int64 `json:"held_products"`
}

// MaxLines bounds the line rows of a report; the lines past it (in the
// order first seen) are summed in one row with Other set.
const MaxLines = 10_000

// totals is Totals as a replay sums them.
type totals struct {
	records, legs, journeys, changed int64
	oldFen, newFen, reFen            int64
	unreproduced                     int64
}

func (t *totals) add(o *totals) {
	t.records += o.records
	t.legs += o.legs
	t.journeys += o.journeys
	t.changed += o.changed
	t.oldFen += o.oldFen
	t.newFen += o.newFen
	t.reFen += o.reFen
	t.unreproduced += o.unreproduced
}

// priced is one record's contribution.
type priced struct {
	leg, journey   bool
	oldFen, newFen int64
	reFen          int64 // under the old table, when there is one
	reproduced     bool
}

func (t *totals) count(p *priced) {
	t.records++
	if p.leg {
		t.legs++
	}
	if p.journey {
		t.journeys++
	}
	if p.newFen != p.oldFen {
		t.changed++
	}
	t.oldFen += p.oldFen
	t.newFen += p.newFen
	t.reFen += p.reFen
	if !p.reproduced {
		t.unreproduced++
	}
}

func (t *totals) out(withOld bool) Totals {
	o := Totals{Records: t.records, Legs: t.legs, Journeys: t.journeys, RecordsChanged: t.changed,
		OldFen: t.oldFen, NewFen: t.newFen, ChangeFen: t.newFen - t.oldFen}
	if withOld {
		re, un := t.reFen, t.unreproduced
		o.RepricedOldFen, o.RecordsUnreproduced = &re, &un
	}
	return o
}

type lineKey struct {
	network uint16
	line    uint32
}

// sums are what one worker adds up; merged at the end.
type sums struct {
	all        totals
	byNet      map[uint16]*totals
	byLine     map[lineKey]*totals
	otherLines totals
	byCat      [256]totals
	byHour     [24]totals

	cards, affected, more, less, same int64
	bands                             [len(BandEdges) + 1]struct{ cards, fen int64 }

	skipped Skipped
	// firstUnpricedPos orders the refusals: the report keeps the first
	// in journal order, whatever the workers.
	firstUnpricedPos int64
	assumed          Assumed
}

func newSums() *sums {
	return &sums{byNet: map[uint16]*totals{}, byLine: map[lineKey]*totals{}}
}

// count adds one record of network, line, rider category and hour.
func (s *sums) count(network uint16, line uint32, cat uint8, hour int, p *priced) {
	s.all.count(p)
	n := s.byNet[network]
	if n == nil {
		n = &totals{}
		s.byNet[network] = n
	}
	n.count(p)
	k := lineKey{network, line}
	l := s.byLine[k]
	if l == nil && len(s.byLine) < MaxLines {
		l = &totals{}
		s.byLine[k] = l
	}
	if l == nil {
		l = &s.otherLines
	}
	l.count(p)
	s.byCat[cat].count(p)
	s.byHour[hour].count(p)
}

// card adds one card's sums over the replayed days.
func (s *sums) card(cs *cardState) {
	if !cs.inRange {
		return
	}
	s.cards++
	if cs.affected {
		s.affected++
	}
	c := cs.newFen - cs.oldFen
	switch {
	case c > 0:
		s.more++
	case c < 0:
		s.less++
	default:
		s.same++
	}
	b := &s.bands[bandOf(c)]
	b.cards++
	b.fen += c
}

func (s *sums) unpriced(pos int64, fen int64, why string) {
	s.skipped.UnpricedRecords++
	s.skipped.UnpricedFen += fen
	if s.skipped.FirstUnpriced == "" || pos < s.firstUnpricedPos {
		s.skipped.FirstUnpriced, s.firstUnpricedPos = why, pos
	}
}

// merge adds o into s. Lines past MaxLines in the merge go to the other
// row too: which lines those are depends on the workers only when a
// replay has more than MaxLines lines.
func (s *sums) merge(o *sums) {
	s.all.add(&o.all)
	for k, v := range o.byNet {
		if n := s.byNet[k]; n != nil {
			n.add(v)
		} else {
			s.byNet[k] = v
		}
	}
	keys := make([]lineKey, 0, len(o.byLine))
	for k := range o.byLine {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, cmpLine)
	for _, k := range keys {
		v := o.byLine[k]
		switch l := s.byLine[k]; {
		case l != nil:
			l.add(v)
		case len(s.byLine) < MaxLines:
			s.byLine[k] = v
		default:
			s.otherLines.add(v)
		}
	}
	s.otherLines.add(&o.otherLines)
	for i := range s.byCat {
		s.byCat[i].add(&o.byCat[i])
	}
	for i := range s.byHour {
		s.byHour[i].add(&o.byHour[i])
	}
	s.cards += o.cards
	s.affected += o.affected
	s.more += o.more
	s.less += o.less
	s.same += o.same
	for i := range s.bands {
		s.bands[i].cards += o.bands[i].cards
		s.bands[i].fen += o.bands[i].fen
	}
	if o.skipped.FirstUnpriced != "" && (s.skipped.FirstUnpriced == "" || o.firstUnpricedPos < s.firstUnpricedPos) {
		s.skipped.FirstUnpriced, s.firstUnpricedPos = o.skipped.FirstUnpriced, o.firstUnpricedPos
	}
	s.skipped.GreyRecords += o.skipped.GreyRecords
	s.skipped.GreyFen += o.skipped.GreyFen
	s.skipped.NotInTableRecords += o.skipped.NotInTableRecords
	s.skipped.NotInTableFen += o.skipped.NotInTableFen
	s.skipped.UnpricedRecords += o.skipped.UnpricedRecords
	s.skipped.UnpricedFen += o.skipped.UnpricedFen
	s.assumed.LateRecords += o.assumed.LateRecords
	s.assumed.AfterGapRecords += o.assumed.AfterGapRecords
	s.assumed.EntryFromRecord += o.assumed.EntryFromRecord
	s.assumed.TapKindGuessed += o.assumed.TapKindGuessed
	s.assumed.HeldProducts += o.assumed.HeldProducts
}

func cmpLine(a, b lineKey) int {
	if a.network != b.network {
		return int(a.network) - int(b.network)
	}
	switch {
	case a.line < b.line:
		return -1
	case a.line > b.line:
		return 1
	}
	return 0
}

// fill writes s into r, naming codes through the new table t.
func (s *sums) fill(r *Report, t *fare.Table, withOld bool) {
	r.Totals = s.all.out(withOld)
	r.Cards, r.CardsAffected, r.CardsPayMore, r.CardsPayLess, r.CardsPaySame = s.cards, s.affected, s.more, s.less, s.same
	r.ByNetwork = []NetworkRow{}
	nets := make([]uint16, 0, len(s.byNet))
	for k := range s.byNet {
		nets = append(nets, k)
	}
	slices.Sort(nets)
	for _, n := range nets {
		id, _ := t.NetworkID(n)
		r.ByNetwork = append(r.ByNetwork, NetworkRow{Network: n, NetworkID: id, Totals: s.byNet[n].out(withOld)})
	}
	r.ByLine = []LineRow{}
	lines := make([]lineKey, 0, len(s.byLine))
	for k := range s.byLine {
		lines = append(lines, k)
	}
	slices.SortFunc(lines, cmpLine)
	for _, k := range lines {
		id, _ := t.RouteID(k.network, k.line)
		r.ByLine = append(r.ByLine, LineRow{Network: k.network, Line: k.line, RouteID: id, Totals: s.byLine[k].out(withOld)})
	}
	if s.otherLines.records > 0 {
		r.ByLine = append(r.ByLine, LineRow{Other: true, Totals: s.otherLines.out(withOld)})
	}
	r.ByRiderCategory = []CategoryRow{}
	for c := range s.byCat {
		if s.byCat[c].records == 0 {
			continue
		}
		id, _ := t.RiderCategoryID(uint8(c))
		r.ByRiderCategory = append(r.ByRiderCategory, CategoryRow{RiderCategory: uint8(c), RiderCategoryID: id, Totals: s.byCat[c].out(withOld)})
	}
	r.ByHour = make([]HourRow, 24)
	for h := range s.byHour {
		r.ByHour[h] = HourRow{Hour: h, Totals: s.byHour[h].out(withOld)}
	}
	r.ChangePerCard = make([]Band, len(s.bands))
	for i := range s.bands {
		b := Band{Cards: s.bands[i].cards, ChangeFen: s.bands[i].fen}
		if i > 0 {
			lo := BandEdges[i-1] + 1
			b.MinFen = &lo
		}
		if i < len(BandEdges) {
			hi := BandEdges[i]
			b.MaxFen = &hi
		}
		r.ChangePerCard[i] = b
	}
	r.Skipped = s.skipped
	r.Assumed = s.assumed
}
