package fare

// Table is a compiled fare table: a GTFS-Fares v2 feed with its extension
// files, validated and indexed so that pricing is lookups in slices and a
// few maps. A Table is immutable once Load returns it and safe for
// concurrent use.
type Table struct {
	version  string
	currency string
	dayEnd   Clock // when the operating day ends: 0 at midnight, 4*3600 at 04:00
	decimals int
	warnings []*FieldError
	files    []string // the files the feed had, for the summary

	networks   ids
	networkMax []int32 // the maximum fare product when a tap-off is missing, -1 none
	uncapped   []bool  // fare_networks.txt capped=0: caps neither count nor limit the network's legs
	// overtime, same-station exits, minimum balance, discount groups (metro.go)
	metro metroRules

	routes   ids
	routeNet []int32
	// routesDefined and stopsDefined count the routes of routes.txt and
	// the stops of stops.txt, interned first; -1 when the feed has no such
	// file. A journey naming another is bad input.
	routesDefined int32
	stopsDefined  int32

	stops      ids
	stopParent []int32
	stopAreas  [][]int32 // areas of the stop and of its parent station

	areas ids

	catIDs     ids
	cats       []category
	defaultCat int32

	media ids

	productIDs ids
	products   []product

	groups ids

	rules        []legRule
	rulesFor     [][]int32 // by network index + 1; slot 0: a leg of no known network
	priorityMode bool      // fare_leg_rules.txt has rule_priority: empty fields are wildcards
	fromListed   []bool    // by area: the area appears in from_area_id
	toListed     []bool    // by area: the area appears in to_area_id

	tfIDs    ids
	tfGroups [][]timeframe
	svcIDs   ids
	services []service

	transfers     []transferRule
	fromGrpListed []bool // by leg group: appears in from_leg_group_id
	toGrpListed   []bool

	joins []joinRule

	distances map[[2]int32]int64 // (from stop, to stop) -> metres
	posts     map[[2]int32]int64 // (route, stop) -> kilometre post in metres

	caps      []capRule
	capsByCat [][3]int64 // by rider category + 1, by period - 1: capFor's answer

	tiers []tier // spend tiers (fare_tiers.txt; tiers.go)

	stopNames  map[string]string // stop_id -> stop_name
	otherNames map[string]string // "network:id", "area:id", "media:id" -> name

	netByCode   map[uint16]int32
	netCode     []uint16
	hasNetCode  []bool
	routeByCode map[codeKey]int32
	stopByCode  map[codeKey]int32
	catByCode   map[uint8]int32
	prodByCode  map[uint16]int32
	prodCode    []uint16
	mediaByCode map[uint8]int32
}

// ids interns string identifiers as dense indices.
type ids struct {
	list []string
	idx  map[string]int32
}

// add returns id's index, adding it if need be.
func (x *ids) add(id string) int32 {
	if i, ok := x.idx[id]; ok {
		return i
	}
	if x.idx == nil {
		x.idx = map[string]int32{}
	}
	i := int32(len(x.list))
	x.list = append(x.list, id)
	x.idx[id] = i
	return i
}

// get returns id's index, or -1.
func (x *ids) get(id string) int32 {
	if i, ok := x.idx[id]; ok {
		return i
	}
	return -1
}

func (x *ids) n() int { return len(x.list) }

// codeKey is a numeric code scoped by the network code it belongs to;
// anyNetwork scopes a code to every network.
type codeKey struct {
	network uint32
	code    uint32
}

const anyNetwork = 1 << 16

type category struct {
	id, name   string
	isDefault  bool
	percent    int64 // fare_percent: pays this percent of the default category's fare; 100 unset
	hasPercent bool
	line       int // in rider_categories.txt, for warnings
}

type variant struct {
	cat    int32 // -1: any rider category
	media  int32 // -1: no particular media
	amount int64
	line   int
}

// product is one fare_product_id with all its rows.
type product struct {
	id, name string
	variants []variant
	time     []timeRule // by rider category; cat -1 for all
	held     *heldProduct
}

type timeRule struct {
	cat          int32
	freeS        int64
	chargeFree   bool
	firstS       int64
	firstAmount  int64
	periodS      int64
	periodAmount int64
	dayCap       int64 // 0: none
	// byPeriods, when set, prices the stay instead: the product's
	// fare_time_periods.txt rows for the category (a product has rows
	// in one of the two files)
	byPeriods *periodFare
}

// HeldKind is how a held product is used up.
type HeldKind uint8

// The kinds of held product.
const (
	Pass        HeldKind = 1 // valid for a period (月票, 年票)
	CountTicket HeldKind = 2 // holds a number of rides (次卡)
)

// String gives "pass" or "count_ticket", as fare_held_products.txt writes it.
func (k HeldKind) String() string {
	switch k {
	case Pass:
		return "pass"
	case CountTicket:
		return "count_ticket"
	}
	return "held_kind(?)"
}

type heldProduct struct {
	kind       HeldKind
	priority   int     // fare_held_products.txt priority: the higher is used first
	networks   []int32 // empty: every network
	dailyLimit int
	rides      int
	days       int
}

type legRule struct {
	line     int
	group    int32 // -1 none
	network  int32 // -1 empty
	fromArea int32
	toArea   int32
	fromTF   int32
	toTF     int32
	product  int32
	priority int
	minDistM int64 // -1: none
	maxDistM int64 // -1: none
	never    bool  // names a timeframe group or product the feed lacks: matches no leg
}

type timeframe struct {
	start, end Clock // seconds of the day; end exclusive
	service    int32 // -1: every day (a dangling service_id)
}

type service struct {
	id       string
	weekdays uint8 // bit 0 Monday .. bit 6 Sunday
	start    Date
	end      Date
	hasRange bool
	added    map[Date]bool // calendar_dates: true added, false removed
}

// DurationType is fare_transfer_rules.duration_limit_type.
type DurationType uint8

// The duration limit types of the GTFS reference.
const (
	DepartureToArrival   DurationType = 0 // departure of the current leg to arrival of the next
	DepartureToDeparture DurationType = 1
	ArrivalToDeparture   DurationType = 2
	ArrivalToArrival     DurationType = 3
)

// TransferType is fare_transfer_rules.fare_transfer_type.
type TransferType uint8

// The fare transfer types of the GTFS reference.
const (
	APlusAB      TransferType = 0 // from-leg product plus transfer product
	APlusABPlusB TransferType = 1 // from-leg, transfer and to-leg products
	AB           TransferType = 2 // the transfer product alone
)

type transferRule struct {
	line      int
	from, to  int32 // leg groups, -1 empty
	count     int   // -1 no limit; 0 when from != to (forbidden)
	limitS    int64 // -1 none
	limitType DurationType
	typ       TransferType
	product   int32 // -1: free
	never     bool  // names a product the feed lacks: applies to no transfer
	// min_from_leg_amount, discount_group_id, discount_window (metro.go)
	cond discountRule
}

type joinRule struct {
	fromNet, toNet   int32
	fromStop, toStop int32 // -1 any
}

// CapPeriod is the period of a fare cap.
type CapPeriod uint8

// The cap periods.
const (
	CapDay   CapPeriod = 1
	CapWeek  CapPeriod = 2 // Monday to Sunday
	CapMonth CapPeriod = 3
)

type capRule struct {
	cat    int32 // -1: every category without its own cap of this period
	period CapPeriod
	amount int64
}

// Version is the table's version: feed_info.txt's feed_version, or a hash
// of the feed's files when it has none. Terminals get it with their
// parameters and records name it.
func (t *Table) Version() string { return t.version }

// OperatingDay returns the operating day (运营日) that clock c of date d
// falls in: the day ends at feed_info.txt's operating_day_end_time (at
// midnight without it), so that with a 04:00 end, 02:00 on 11 June is in
// the day of 10 June. A leg belongs to the operating day in which it
// starts; day caps, daily ride limits, validity dates and Spend follow
// it. An unknown time (NoTime) is in day d.
func (t *Table) OperatingDay(d Date, c Clock) Date {
	if c < 0 {
		return d
	}
	c -= t.dayEnd
	days := c / day
	if c%day < 0 {
		days--
	}
	return d + Date(days)
}

// Currency is the ISO 4217 code of every amount in the table.
func (t *Table) Currency() string { return t.currency }

// Warnings are the problems Load tolerated: dangling references pricing
// does not need, timeframes with no calendar.
func (t *Table) Warnings() []*FieldError { return t.warnings }

// FormatAmount writes minor units (fen) in the table's currency units, as
// fare_products.txt does: 250 gives "2.50".
func (t *Table) FormatAmount(fen int64) string { return formatAmount(fen, t.decimals) }

// Summary counts what a table holds, for `citycard fare check`.
type Summary struct {
	Version         string   `json:"version"`
	Currency        string   `json:"currency"`
	Files           []string `json:"files"`
	Networks        int      `json:"networks"`
	Routes          int      `json:"routes"`
	Stops           int      `json:"stops"`
	Areas           int      `json:"areas"`
	RiderCategories int      `json:"rider_categories"`
	FareMedia       int      `json:"fare_media"`
	FareProducts    int      `json:"fare_products"`
	LegRules        int      `json:"fare_leg_rules"`
	RulePriority    bool     `json:"rule_priority"`
	JoinRules       int      `json:"fare_leg_join_rules"`
	TransferRules   int      `json:"fare_transfer_rules"`
	TimeframeGroups int      `json:"timeframe_groups"`
	DistanceFares   int      `json:"distance_rules"`
	TimeFares       int      `json:"time_fare_products"`
	HeldProducts    int      `json:"held_products"`
	Caps            int      `json:"fare_caps"`
	Tiers           int      `json:"fare_tiers"`
	NetworksWithMax int      `json:"networks_with_max_fare"`
	NumericCodes    int      `json:"numeric_codes"`
	DefaultCategory string   `json:"default_rider_category,omitempty"`
	Warnings        int      `json:"warnings"`
}

// Summary returns the table's counts.
func (t *Table) Summary() Summary {
	s := Summary{
		Version: t.version, Currency: t.currency, Files: t.files,
		Networks: t.networks.n(), Routes: t.routes.n(), Stops: t.stops.n(), Areas: t.areas.n(),
		RiderCategories: len(t.cats), FareMedia: t.media.n(), FareProducts: len(t.products),
		LegRules: len(t.rules), RulePriority: t.priorityMode, JoinRules: len(t.joins), TransferRules: len(t.transfers),
		TimeframeGroups: t.tfIDs.n(), Caps: len(t.caps), Tiers: len(t.tiers), Warnings: len(t.warnings),
		NumericCodes: len(t.netByCode) + len(t.routeByCode) + len(t.stopByCode) + len(t.catByCode) + len(t.prodByCode) + len(t.mediaByCode),
	}
	if t.defaultCat >= 0 {
		s.DefaultCategory = t.cats[t.defaultCat].id
	}
	for _, r := range t.rules {
		if r.minDistM >= 0 || r.maxDistM >= 0 {
			s.DistanceFares++
		}
	}
	for _, p := range t.products {
		if len(p.time) > 0 {
			s.TimeFares++
		}
		if p.held != nil {
			s.HeldProducts++
		}
	}
	for _, m := range t.networkMax {
		if m >= 0 {
			s.NetworksWithMax++
		}
	}
	return s
}

// The numeric codes cards and terminals carry (fare_codes.txt). Each
// lookup returns the feed's id and whether the code is mapped.

// NetworkID returns the network_id of a network code.
func (t *Table) NetworkID(code uint16) (string, bool) {
	n, ok := t.netByCode[code]
	if !ok {
		return "", false
	}
	return t.networks.list[n], true
}

// RouteID returns the route_id of a line code on a network: a code scoped
// to the network, else one given for every network.
func (t *Table) RouteID(network uint16, line uint32) (string, bool) {
	r, ok := t.routeByCode[codeKey{uint32(network), line}]
	if !ok {
		r, ok = t.routeByCode[codeKey{anyNetwork, line}]
	}
	if !ok {
		return "", false
	}
	return t.routes.list[r], true
}

// StopID returns the stop_id of a station code on a network, as RouteID.
func (t *Table) StopID(network uint16, station uint32) (string, bool) {
	s, ok := t.stopByCode[codeKey{uint32(network), station}]
	if !ok {
		s, ok = t.stopByCode[codeKey{anyNetwork, station}]
	}
	if !ok {
		return "", false
	}
	return t.stops.list[s], true
}

// RiderCategoryID returns the rider_category_id of the card's rider
// category byte.
func (t *Table) RiderCategoryID(code uint8) (string, bool) {
	c, ok := t.catByCode[code]
	if !ok {
		return "", false
	}
	return t.catIDs.list[c], true
}

// FareMediaID returns the fare_media_id of a card type byte.
func (t *Table) FareMediaID(code uint8) (string, bool) {
	m, ok := t.mediaByCode[code]
	if !ok {
		return "", false
	}
	return t.media.list[m], true
}

// FareProductID returns the fare_product_id of a card product code.
func (t *Table) FareProductID(code uint16) (string, bool) {
	p, ok := t.prodByCode[code]
	if !ok || p < 0 {
		return "", false
	}
	return t.products[p].id, true
}

// FareProductCode returns the card code of a fare product, and false when
// it has none.
func (t *Table) FareProductCode(id string) (uint16, bool) {
	p := t.productIDs.get(id)
	if p < 0 {
		return 0, false
	}
	_, ok := t.prodByCode[t.prodCode[p]]
	return t.prodCode[p], ok && t.prodByCode[t.prodCode[p]] == p
}

// HeldKindOf returns the kind of a held product (pass or count ticket),
// and false for a product that is not held.
func (t *Table) HeldKindOf(id string) (HeldKind, bool) {
	p := t.productIDs.get(id)
	if p < 0 || t.products[p].held == nil {
		return 0, false
	}
	return t.products[p].held.kind, true
}

// Chosen returns the offer the quote used for leg i, and false for a leg
// joined to an earlier one.
func (q *Quote) Chosen(i int) (Offer, bool) {
	l := &q.Legs[i]
	if l.Chosen < 0 {
		return Offer{}, false
	}
	return l.Offers[l.Chosen], true
}
