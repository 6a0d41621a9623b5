package fare

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/citycard/citycard"
)

// The files Load reads. Every other file of the feed is ignored.
var feedFiles = []string{
	"feed_info.txt", "agency.txt", "fare_media.txt", "rider_categories.txt", "networks.txt",
	"routes.txt", "route_networks.txt", "stops.txt", "areas.txt", "stop_areas.txt",
	"calendar.txt", "calendar_dates.txt", "timeframes.txt", "fare_products.txt",
	"fare_leg_rules.txt", "fare_leg_join_rules.txt", "fare_transfer_rules.txt",
	// The extension files (README.md).
	"fare_codes.txt", "fare_networks.txt", "stop_distances.txt", "route_stop_posts.txt",
	"fare_time_rules.txt", "fare_held_products.txt", "fare_caps.txt",
	"fare_time_periods.txt", "fare_tiers.txt", "fare_tier_networks.txt",
}

// loader builds a Table from the files of a feed, collecting errors and
// warnings as it goes.
type loader struct {
	t     *Table
	files map[string]*table
	errs  ErrorList
	warns []*FieldError
	// defined says which kinds of id a file of the feed defines: a
	// reference to an id of a kind no file defines is taken as given (a
	// partial feed), a reference to an id its file lacks is dangling.
	defined map[string]bool
	tfLines map[int32]int
	names   map[string]string // kind+":"+id -> name, for explanations
}

func (l *loader) errf(f *table, row int, field, format string, args ...any) {
	if len(l.errs) >= errorsMax {
		return
	}
	line := 0
	if row >= 0 {
		line = f.lines[row]
	}
	l.errs = append(l.errs, &FieldError{File: f.name, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

func (l *loader) warnf(f *table, row int, field, format string, args ...any) {
	if len(l.warns) >= errorsMax {
		return
	}
	line := 0
	if row >= 0 {
		line = f.lines[row]
	}
	l.warns = append(l.warns, &FieldError{File: f.name, Line: line, Field: field, Msg: fmt.Sprintf(format, args...)})
}

// file returns the named file, or an empty absent one.
func (l *loader) file(name string) *table {
	if f, ok := l.files[name]; ok {
		return f
	}
	return &table{name: name, cols: map[string]int{}, absent: true}
}

// required returns the value of a required field, recording an error when
// it is empty.
func (l *loader) required(f *table, i int, col string) (string, bool) {
	v := f.get(i, col)
	if v == "" {
		l.errf(f, i, col, "required, empty")
		return "", false
	}
	return v, true
}

// ref resolves a reference to a network, route or stop in x. An id x
// does not hold is added, with a warning when a file of the feed defines
// that kind (a dangling reference): a rule naming it then matches only
// legs naming that id too.
func (l *loader) ref(f *table, i int, col string, x *ids, kind string) int32 {
	v := f.get(i, col)
	if v == "" {
		return -1
	}
	if j := x.get(v); j >= 0 {
		return j
	}
	if l.defined[kind] {
		l.warnf(f, i, col, "%s %q is not defined", kind, v)
	}
	return x.add(v)
}

// defRef resolves a reference to an area, rider category or fare media:
// -1 and true when empty. A dangling reference (a file of the feed defines the
// kind, not this id) is a warning and false: the row naming it never
// applies, as the reference tolerates and published feeds need. Where no
// file defines the kind (a partial feed) the id is taken as given.
func (l *loader) defRef(f *table, i int, col string, x *ids, kind, effect string) (int32, bool) {
	v := f.get(i, col)
	if v == "" {
		return -1, true
	}
	if j := x.get(v); j >= 0 {
		return j, true
	}
	if l.defined[kind] {
		l.warnf(f, i, col, "%s %q is not defined: %s", kind, v, effect)
		return -1, false
	}
	return x.add(v), true
}

// intField parses an optional integer field; def when empty.
func (l *loader) intField(f *table, i int, col string, def, lo, hi int64) int64 {
	v := f.get(i, col)
	if v == "" {
		return def
	}
	var n int64
	_, err := fmt.Sscan(v, &n)
	if err != nil || fmt.Sprint(n) != strings.TrimPrefix(v, "+") {
		l.errf(f, i, col, "%q is not an integer", v)
		return def
	}
	if n < lo || n > hi {
		l.errf(f, i, col, "%d is not in %d..%d", n, lo, hi)
		return def
	}
	return n
}

func (l *loader) amountField(f *table, i int, col string, required bool) int64 {
	v := f.get(i, col)
	if v == "" {
		if required {
			l.errf(f, i, col, "required, empty")
		}
		return 0
	}
	n, err := parseAmount(v, l.t.decimals)
	if err != nil {
		l.errf(f, i, col, "%v", err)
	}
	return n
}

// Load reads a GTFS-Fares v2 feed (with the extension files of README.md)
// from fsys, validates it and compiles it into a Table. Unknown files and
// columns are ignored. Every problem names its file, line and field: the
// error is a *citycard.Error of kind Invalid wrapping an ErrorList;
// problems pricing can live with are the Table's Warnings.
func Load(fsys fs.FS) (*Table, error) {
	const op = "fare.Load"
	l := &loader{
		t:       &Table{defaultCat: -1},
		files:   map[string]*table{},
		defined: map[string]bool{},
		tfLines: map[int32]int{},
		names:   map[string]string{},
	}
	h := sha256.New()
	for _, name := range feedFiles {
		data, err := fs.ReadFile(fsys, name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, citycard.E(op, citycard.IO, "%s: %w", name, err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", name, len(data))
		h.Write(data)
		f, ferrs := parseCSV(name, data)
		if ferrs != nil {
			l.errs = append(l.errs, ferrs...)
			continue
		}
		l.files[name] = f
		l.t.files = append(l.t.files, name)
	}
	if len(l.errs) > 0 {
		return nil, citycard.Wrap(op, citycard.Invalid, l.errs)
	}
	if _, ok := l.files["fare_products.txt"]; !ok {
		return nil, citycard.Wrap(op, citycard.Invalid, ErrorList{{File: "fare_products.txt", Msg: "missing: a fare table needs its fare products"}})
	}
	l.t.version = "sha256:" + hex.EncodeToString(h.Sum(nil)[:8])
	l.load()
	if len(l.errs) > 0 {
		return nil, citycard.Wrap(op, citycard.Invalid, l.errs)
	}
	l.compile()
	l.t.warnings = l.warns
	return l.t, nil
}

func (l *loader) load() {
	t := l.t
	for kind, file := range map[string]string{
		"network": "networks.txt", "route": "routes.txt", "stop": "stops.txt", "area": "areas.txt",
		"rider category": "rider_categories.txt", "fare media": "fare_media.txt", "service": "calendar.txt",
		"timeframe group": "timeframes.txt", "fare product": "fare_products.txt", "leg group": "fare_leg_rules.txt",
	} {
		_, l.defined[kind] = l.files[file]
	}
	if _, ok := l.files["calendar_dates.txt"]; ok {
		l.defined["service"] = true
	}
	if _, ok := l.files["routes.txt"]; ok {
		l.defined["network"] = l.defined["network"] || l.file("routes.txt").has("network_id")
	}
	if _, ok := l.files["route_networks.txt"]; ok {
		l.defined["network"] = true
	}

	if f := l.file("feed_info.txt"); len(f.rows) > 0 {
		if v := f.get(0, "feed_version"); v != "" {
			t.version = v
		}
		// The operating day (运营日) ends at operating_day_end_time,
		// midnight without it; at noon at the latest.
		if v := f.get(0, "operating_day_end_time"); v != "" {
			c, err := ParseClock(v)
			if err != nil || c > day/2 {
				l.errf(f, 0, "operating_day_end_time", "%q is not a time 00:00:00-12:00:00", v)
			}
			t.dayEnd = max(c, 0)
		}
	}

	// The currency first: every amount of the feed is parsed with it.
	t.currency = "CNY"
	fp := l.file("fare_products.txt")
	for i := range fp.rows {
		if c := fp.get(i, "currency"); c != "" {
			t.currency = strings.ToUpper(c)
			break
		}
	}
	t.decimals = decimalsOf(t.currency)

	f := l.file("fare_media.txt")
	for i := range f.rows {
		if id, ok := l.required(f, i, "fare_media_id"); ok {
			if t.media.get(id) >= 0 {
				l.errf(f, i, "fare_media_id", "%q defined twice", id)
			}
			t.media.add(id)
			l.names["media:"+id] = f.get(i, "fare_media_name")
			if v := f.get(i, "fare_media_type"); v != "" && (len(v) != 1 || v[0] < '0' || v[0] > '4') {
				l.errf(f, i, "fare_media_type", "%q is not 0-4", v)
			}
		}
	}

	f = l.file("rider_categories.txt")
	for i := range f.rows {
		id, ok := l.required(f, i, "rider_category_id")
		if !ok {
			continue
		}
		if t.catIDs.get(id) >= 0 {
			l.errf(f, i, "rider_category_id", "%q defined twice", id)
			continue
		}
		c := category{id: id, name: f.get(i, "rider_category_name"), percent: 100, line: f.lines[i]}
		switch v := f.get(i, "is_default_fare_category"); v {
		case "", "0":
		case "1":
			c.isDefault = true
		default:
			l.errf(f, i, "is_default_fare_category", "%q is not 0 or 1", v)
		}
		if f.get(i, "fare_percent") != "" {
			c.percent = l.intField(f, i, "fare_percent", 100, 0, 100)
			c.hasPercent = true
		}
		t.catIDs.add(id)
		t.cats = append(t.cats, c)
		if c.isDefault {
			if t.defaultCat >= 0 {
				l.errf(f, i, "is_default_fare_category", "a second default category (the first is %q)", t.cats[t.defaultCat].id)
			}
			t.defaultCat = int32(len(t.cats) - 1)
		}
	}

	f = l.file("networks.txt")
	for i := range f.rows {
		if id, ok := l.required(f, i, "network_id"); ok {
			if t.networks.get(id) >= 0 {
				l.errf(f, i, "network_id", "%q defined twice", id)
			}
			t.networks.add(id)
			l.names["network:"+id] = f.get(i, "network_name")
		}
	}
	f = l.file("routes.txt")
	for i := range f.rows {
		id, ok := l.required(f, i, "route_id")
		if !ok {
			continue
		}
		r := t.routes.add(id)
		if n := f.get(i, "network_id"); n != "" {
			l.setRouteNet(r, t.networks.add(n))
		}
	}
	t.routesDefined = -1
	if !f.absent {
		t.routesDefined = int32(t.routes.n())
	}
	f = l.file("route_networks.txt")
	for i := range f.rows {
		_, ok1 := l.required(f, i, "network_id")
		rid, ok2 := l.required(f, i, "route_id")
		if !ok1 || !ok2 {
			continue
		}
		n := l.ref(f, i, "network_id", &t.networks, "network")
		r := t.routes.get(rid)
		if r < 0 {
			if l.defined["route"] {
				l.warnf(f, i, "route_id", "route %q is not defined", rid)
			}
			r = t.routes.add(rid)
		}
		if len(t.routeNet) > int(r) && t.routeNet[r] >= 0 && t.routeNet[r] != n {
			l.errf(f, i, "route_id", "route %q is in network %q already", rid, t.networks.list[t.routeNet[r]])
			continue
		}
		l.setRouteNet(r, n)
	}

	f = l.file("stops.txt")
	parents := map[int32]string{}
	for i := range f.rows {
		id, ok := l.required(f, i, "stop_id")
		if !ok {
			continue
		}
		s := t.stops.add(id)
		l.names["stop:"+id] = f.get(i, "stop_name")
		if p := f.get(i, "parent_station"); p != "" {
			parents[s] = p
		}
	}
	t.stopsDefined = -1
	if !f.absent {
		t.stopsDefined = int32(t.stops.n())
	}
	for s, p := range parents {
		ps := t.stops.get(p)
		if ps < 0 {
			l.warns = append(l.warns, &FieldError{File: "stops.txt", Field: "parent_station", Msg: fmt.Sprintf("station %q of stop %q is not defined", p, t.stops.list[s])})
			continue
		}
		l.growStops()
		t.stopParent[s] = ps
	}

	f = l.file("areas.txt")
	for i := range f.rows {
		if id, ok := l.required(f, i, "area_id"); ok {
			t.areas.add(id)
			l.names["area:"+id] = f.get(i, "area_name")
		}
	}
	f = l.file("stop_areas.txt")
	for i := range f.rows {
		_, ok1 := l.required(f, i, "area_id")
		_, ok2 := l.required(f, i, "stop_id")
		if !ok1 || !ok2 {
			continue
		}
		a, ok := l.defRef(f, i, "area_id", &t.areas, "area", "the row is ignored")
		if !ok {
			continue
		}
		s := l.ref(f, i, "stop_id", &t.stops, "stop")
		l.growStops()
		if !slices.Contains(t.stopAreas[s], a) {
			t.stopAreas[s] = append(t.stopAreas[s], a)
		}
	}

	l.loadCalendar()
	l.loadTimeframes()
	l.loadProducts()
	l.loadLegRules()
	l.loadJoinRules()
	l.loadTransferRules()
	l.loadTiers()
	l.loadExtensions()
	l.loadTimePeriods()
}

func (l *loader) setRouteNet(r, n int32) {
	for len(l.t.routeNet) <= int(r) {
		l.t.routeNet = append(l.t.routeNet, -1)
	}
	l.t.routeNet[r] = n
}

func (l *loader) growStops() {
	t := l.t
	for len(t.stopParent) < t.stops.n() {
		t.stopParent = append(t.stopParent, -1)
		t.stopAreas = append(t.stopAreas, nil)
	}
}

func (l *loader) loadCalendar() {
	t := l.t
	f := l.file("calendar.txt")
	days := []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"}
	for i := range f.rows {
		id, ok := l.required(f, i, "service_id")
		if !ok {
			continue
		}
		if t.svcIDs.get(id) >= 0 {
			l.errf(f, i, "service_id", "%q defined twice", id)
			continue
		}
		s := service{id: id, hasRange: true}
		for b, d := range days {
			switch v := f.get(i, d); v {
			case "1":
				s.weekdays |= 1 << b
			case "0":
			default:
				l.errf(f, i, d, "%q is not 0 or 1", v)
			}
		}
		var err error
		if s.start, err = ParseDate(f.get(i, "start_date")); err != nil {
			l.errf(f, i, "start_date", "%v", err)
		}
		if s.end, err = ParseDate(f.get(i, "end_date")); err != nil {
			l.errf(f, i, "end_date", "%v", err)
		}
		t.svcIDs.add(id)
		t.services = append(t.services, s)
	}
	f = l.file("calendar_dates.txt")
	for i := range f.rows {
		id, ok := l.required(f, i, "service_id")
		if !ok {
			continue
		}
		d, err := ParseDate(f.get(i, "date"))
		if err != nil {
			l.errf(f, i, "date", "%v", err)
			continue
		}
		j := t.svcIDs.get(id)
		if j < 0 {
			j = t.svcIDs.add(id)
			t.services = append(t.services, service{id: id})
		}
		s := &t.services[j]
		if s.added == nil {
			s.added = map[Date]bool{}
		}
		switch v := f.get(i, "exception_type"); v {
		case "1":
			s.added[d] = true
		case "2":
			s.added[d] = false
		default:
			l.errf(f, i, "exception_type", "%q is not 1 or 2", v)
		}
	}
}

func (l *loader) loadTimeframes() {
	t := l.t
	f := l.file("timeframes.txt")
	for i := range f.rows {
		id, ok := l.required(f, i, "timeframe_group_id")
		if !ok {
			continue
		}
		tf := timeframe{start: 0, end: day, service: -1}
		st, en := f.get(i, "start_time"), f.get(i, "end_time")
		if (st == "") != (en == "") {
			l.errf(f, i, "end_time", "start_time and end_time go together")
		}
		if st != "" {
			c, err := ParseClock(st)
			if err != nil || c > day {
				l.errf(f, i, "start_time", "%q is not a time of day 00:00:00-24:00:00", st)
			}
			tf.start = c
		}
		if en != "" {
			c, err := ParseClock(en)
			if err != nil || c > day {
				l.errf(f, i, "end_time", "%q is not a time of day 00:00:00-24:00:00", en)
			}
			tf.end = c
		}
		if svc, ok := l.required(f, i, "service_id"); ok {
			if j := t.svcIDs.get(svc); j >= 0 {
				tf.service = j
			} else {
				l.warnf(f, i, "service_id", "service %q is in neither calendar.txt nor calendar_dates.txt: the timeframe applies every day", svc)
			}
		}
		g := t.tfIDs.add(id)
		for len(t.tfGroups) <= int(g) {
			t.tfGroups = append(t.tfGroups, nil)
		}
		t.tfGroups[g] = append(t.tfGroups[g], tf)
		if _, ok := l.tfLines[g]; !ok {
			l.tfLines[g] = f.lines[i]
		}
	}
}

func (l *loader) loadProducts() {
	t := l.t
	f := l.file("fare_products.txt")
	type key struct{ cat, media int32 }
	seen := map[int32]map[key]int{}
	for i := range f.rows {
		id, ok := l.required(f, i, "fare_product_id")
		if !ok {
			continue
		}
		if c := strings.ToUpper(f.get(i, "currency")); c == "" {
			l.errf(f, i, "currency", "required, empty")
		} else if c != t.currency {
			l.errf(f, i, "currency", "%s, but the feed's amounts are in %s: one currency a table", c, t.currency)
		}
		v := variant{line: f.lines[i]}
		v.amount = l.amountField(f, i, "amount", true)
		var okCat, okMedia bool
		v.cat, okCat = l.defRef(f, i, "rider_category_id", &t.catIDs, "rider category", "the row never applies")
		v.media, okMedia = l.defRef(f, i, "fare_media_id", &t.media, "fare media", "the row never applies")
		p := t.productIDs.get(id)
		if p < 0 {
			p = t.productIDs.add(id)
			t.products = append(t.products, product{id: id, name: f.get(i, "fare_product_name")})
			seen[p] = map[key]int{}
		}
		if !okCat || !okMedia {
			continue // the product is defined; this row of it applies to no one
		}
		k := key{v.cat, v.media}
		if line, dup := seen[p][k]; dup {
			l.errf(f, i, "fare_product_id", "%q has a row for this rider category and fare media already, line %d", id, line)
			continue
		}
		seen[p][k] = f.lines[i]
		t.products[p].variants = append(t.products[p].variants, v)
	}
	l.growCats()
}

// growCats adds the categories that products referred to without a
// rider_categories.txt (a partial feed).
func (l *loader) growCats() {
	t := l.t
	for len(t.cats) < t.catIDs.n() {
		id := t.catIDs.list[len(t.cats)]
		t.cats = append(t.cats, category{id: id, percent: 100})
	}
}

// productRef resolves a fare_product_id: -1 and true when empty (an
// error when required). A product fare_products.txt lacks is a dangling
// reference: a warning saying its effect, and false.
func (l *loader) productRef(f *table, i int, col string, required bool, effect string) (int32, bool) {
	v := f.get(i, col)
	if v == "" {
		if required {
			l.errf(f, i, col, "required, empty")
		}
		return -1, !required
	}
	p := l.t.productIDs.get(v)
	if p < 0 {
		l.warnf(f, i, col, "fare product %q is not in fare_products.txt: %s", v, effect)
		return -1, false
	}
	return p, true
}

func (l *loader) loadLegRules() {
	t := l.t
	f := l.file("fare_leg_rules.txt")
	t.priorityMode = f.has("rule_priority")
	for i := range f.rows {
		r := legRule{line: f.lines[i], group: -1, minDistM: -1, maxDistM: -1}
		if g := f.get(i, "leg_group_id"); g != "" {
			r.group = t.groups.add(g)
		}
		r.network = l.ref(f, i, "network_id", &t.networks, "network")
		var okFrom, okTo bool
		r.fromArea, okFrom = l.defRef(f, i, "from_area_id", &t.areas, "area", "the rule never matches")
		r.toArea, okTo = l.defRef(f, i, "to_area_id", &t.areas, "area", "the rule never matches")
		var ok1, ok2, ok3 bool
		r.fromTF, ok1 = l.tfRef(f, i, "from_timeframe_group_id")
		r.toTF, ok2 = l.tfRef(f, i, "to_timeframe_group_id")
		r.product, ok3 = l.productRef(f, i, "fare_product_id", true, "the rule never matches")
		// A rule naming what the feed does not define stays (its leg
		// group and what it names still count for the others) but never
		// matches a leg.
		r.never = !ok1 || !ok2 || !ok3 || !okFrom || !okTo
		r.priority = int(l.intField(f, i, "rule_priority", 0, 0, math.MaxInt32))
		r.minDistM = l.intField(f, i, "min_distance_m", -1, 0, 1e8)
		r.maxDistM = l.intField(f, i, "max_distance_m", -1, 0, 1e8)
		if r.minDistM >= 0 && r.maxDistM >= 0 && r.maxDistM <= r.minDistM {
			l.errf(f, i, "max_distance_m", "%d is not more than min_distance_m %d", r.maxDistM, r.minDistM)
		}
		t.rules = append(t.rules, r)
	}
}

// tfRef resolves a timeframe group: -1 and true when empty; a group
// timeframes.txt lacks is a dangling reference (a warning, and false).
func (l *loader) tfRef(f *table, i int, col string) (int32, bool) {
	v := f.get(i, col)
	if v == "" {
		return -1, true
	}
	g := l.t.tfIDs.get(v)
	if g < 0 {
		l.warnf(f, i, col, "timeframe group %q is not in timeframes.txt: the rule never matches", v)
		return -1, false
	}
	return g, true
}

func (l *loader) loadJoinRules() {
	t := l.t
	f := l.file("fare_leg_join_rules.txt")
	for i := range f.rows {
		_, ok1 := l.required(f, i, "from_network_id")
		_, ok2 := l.required(f, i, "to_network_id")
		if !ok1 || !ok2 {
			continue
		}
		j := joinRule{
			fromNet:  l.ref(f, i, "from_network_id", &t.networks, "network"),
			toNet:    l.ref(f, i, "to_network_id", &t.networks, "network"),
			fromStop: l.ref(f, i, "from_stop_id", &t.stops, "stop"),
			toStop:   l.ref(f, i, "to_stop_id", &t.stops, "stop"),
		}
		if (j.fromStop < 0) != (j.toStop < 0) {
			l.errf(f, i, "to_stop_id", "from_stop_id and to_stop_id go together")
		}
		t.joins = append(t.joins, j)
	}
}

func (l *loader) loadTransferRules() {
	t := l.t
	f := l.file("fare_transfer_rules.txt")
	for i := range f.rows {
		r := transferRule{line: f.lines[i], from: -1, to: -1, limitS: -1, product: -1}
		for _, c := range []struct {
			col string
			dst *int32
		}{{"from_leg_group_id", &r.from}, {"to_leg_group_id", &r.to}} {
			v := f.get(i, c.col)
			if v == "" {
				continue
			}
			*c.dst = t.groups.get(v)
			if *c.dst < 0 {
				l.warnf(f, i, c.col, "leg group %q is in no fare_leg_rules.txt row: the rule never applies", v)
				*c.dst = t.groups.add(v)
			}
		}
		same := f.get(i, "from_leg_group_id") != "" && f.get(i, "from_leg_group_id") == f.get(i, "to_leg_group_id")
		switch v := f.get(i, "transfer_count"); {
		case same && v == "":
			l.errf(f, i, "transfer_count", "required when from_leg_group_id equals to_leg_group_id")
		case !same && v != "":
			l.errf(f, i, "transfer_count", "forbidden when from_leg_group_id differs from to_leg_group_id")
		case same:
			r.count = int(l.intField(f, i, "transfer_count", -1, -1, 1000))
			if r.count == 0 {
				l.errf(f, i, "transfer_count", "0 is not -1 or a positive count")
			}
		}
		if f.get(i, "duration_limit") != "" {
			r.limitS = l.intField(f, i, "duration_limit", -1, 1, 366*day)
			if f.get(i, "duration_limit_type") == "" {
				l.errf(f, i, "duration_limit_type", "required with a duration_limit")
			}
		} else if f.get(i, "duration_limit_type") != "" {
			l.errf(f, i, "duration_limit_type", "forbidden without a duration_limit")
		}
		r.limitType = DurationType(l.intField(f, i, "duration_limit_type", 0, 0, 3))
		if f.get(i, "fare_transfer_type") == "" {
			l.errf(f, i, "fare_transfer_type", "required, empty")
		}
		r.typ = TransferType(l.intField(f, i, "fare_transfer_type", 0, 0, 2))
		// A transfer product the feed lacks is not a free transfer: the
		// rule never applies.
		var ok bool
		r.product, ok = l.productRef(f, i, "fare_product_id", false, "the rule never applies")
		r.never = !ok
		r.cond = l.loadDiscountRule(f, i)
		t.transfers = append(t.transfers, r)
	}
}

// codeKinds gives the largest code of each kind of fare_codes.txt.
var codeKinds = map[string]int64{"network": math.MaxUint16, "route": math.MaxUint32, "stop": math.MaxUint32, "rider_category": math.MaxUint8, "fare_product": math.MaxUint16, "fare_media": math.MaxUint8}

func (l *loader) loadExtensions() {
	t := l.t
	t.netByCode = map[uint16]int32{}
	t.routeByCode = map[codeKey]int32{}
	t.stopByCode = map[codeKey]int32{}
	t.catByCode = map[uint8]int32{}
	t.prodByCode = map[uint16]int32{}
	t.mediaByCode = map[uint8]int32{}
	prodCode := map[int32]uint16{}
	netCode := map[int32]uint16{}

	// Networks codes first: routes and stops are scoped by them.
	f := l.file("fare_codes.txt")
	order := make([]int, 0, len(f.rows))
	for i := range f.rows {
		if f.get(i, "kind") == "network" {
			order = append(order, i)
		}
	}
	for i := range f.rows {
		if f.get(i, "kind") != "network" {
			order = append(order, i)
		}
	}
	for _, i := range order {
		kind := f.get(i, "kind")
		limit, ok := codeKinds[kind]
		if !ok {
			l.errf(f, i, "kind", "%q is not network, route, stop, rider_category, fare_product or fare_media", kind)
			continue
		}
		_, ok1 := l.required(f, i, "id")
		cs, ok2 := l.required(f, i, "code")
		if !ok1 || !ok2 {
			continue
		}
		code, err := parseUint(cs, limit)
		if err != nil {
			l.errf(f, i, "code", "%v", err)
			continue
		}
		scope := codeKey{network: anyNetwork, code: uint32(code)}
		if n := f.get(i, "network_id"); n != "" {
			if kind != "route" && kind != "stop" {
				l.errf(f, i, "network_id", "only routes and stops are scoped by a network")
				continue
			}
			nc, ok := netCode[t.networks.get(n)]
			if !ok {
				l.errf(f, i, "network_id", "network %q has no code in fare_codes.txt", n)
				continue
			}
			scope.network = uint32(nc)
		}
		dup := false
		switch kind {
		case "network":
			n := l.ref(f, i, "id", &t.networks, "network")
			_, dup = t.netByCode[uint16(code)]
			t.netByCode[uint16(code)] = n
			netCode[n] = uint16(code)
		case "route":
			r := l.ref(f, i, "id", &t.routes, "route")
			_, dup = t.routeByCode[scope]
			t.routeByCode[scope] = r
		case "stop":
			s := l.ref(f, i, "id", &t.stops, "stop")
			_, dup = t.stopByCode[scope]
			t.stopByCode[scope] = s
		case "rider_category":
			c, ok := l.defRef(f, i, "id", &t.catIDs, "rider category", "the code maps nothing")
			_, dup = t.catByCode[uint8(code)]
			if ok {
				t.catByCode[uint8(code)] = c
			}
		case "fare_product":
			p, ok := l.productRef(f, i, "id", true, "the code maps nothing")
			_, dup = t.prodByCode[uint16(code)]
			if ok {
				t.prodByCode[uint16(code)] = p
				prodCode[p] = uint16(code)
			}
		case "fare_media":
			m, ok := l.defRef(f, i, "id", &t.media, "fare media", "the code maps nothing")
			_, dup = t.mediaByCode[uint8(code)]
			if ok {
				t.mediaByCode[uint8(code)] = m
			}
		}
		if dup {
			l.errf(f, i, "code", "%s code %d is given twice in one network", kind, code)
		}
	}
	l.growCats()

	f = l.file("fare_networks.txt")
	max := map[int32]int32{}
	uncapped := map[int32]bool{}
	for i := range f.rows {
		if _, ok := l.required(f, i, "network_id"); !ok {
			continue
		}
		n := l.ref(f, i, "network_id", &t.networks, "network")
		if _, dup := max[n]; dup {
			l.errf(f, i, "network_id", "network given twice")
		}
		max[n], _ = l.productRef(f, i, "max_fare_product_id", false, "the network has no maximum fare")
		switch v := f.get(i, "capped"); v {
		case "", "1":
		case "0":
			uncapped[n] = true
		default:
			l.errf(f, i, "capped", "%q is not 0 or 1", v)
		}
		l.loadNetworkRule(f, i, n)
	}

	// stop_distances.txt: a row gives both directions unless the reverse
	// has its own row, which then stands for that direction. Only a pair
	// given twice in the same direction is an error.
	f = l.file("stop_distances.txt")
	t.distances = map[[2]int32]int64{}
	given := map[[2]int32]bool{}
	for i := range f.rows {
		_, ok1 := l.required(f, i, "from_stop_id")
		_, ok2 := l.required(f, i, "to_stop_id")
		_, ok3 := l.required(f, i, "distance_m")
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		a := l.ref(f, i, "from_stop_id", &t.stops, "stop")
		b := l.ref(f, i, "to_stop_id", &t.stops, "stop")
		d := l.intField(f, i, "distance_m", 0, 0, 1e8)
		if given[[2]int32{a, b}] {
			l.errf(f, i, "to_stop_id", "distance given twice")
			continue
		}
		given[[2]int32{a, b}] = true
		t.distances[[2]int32{a, b}] = d
		if !given[[2]int32{b, a}] {
			t.distances[[2]int32{b, a}] = d
		}
	}

	f = l.file("route_stop_posts.txt")
	t.posts = map[[2]int32]int64{}
	for i := range f.rows {
		_, ok1 := l.required(f, i, "route_id")
		_, ok2 := l.required(f, i, "stop_id")
		_, ok3 := l.required(f, i, "post_m")
		if !ok1 || !ok2 || !ok3 {
			continue
		}
		r := l.ref(f, i, "route_id", &t.routes, "route")
		s := l.ref(f, i, "stop_id", &t.stops, "stop")
		if _, dup := t.posts[[2]int32{r, s}]; dup {
			l.errf(f, i, "stop_id", "stop %q has a post on this route already", f.get(i, "stop_id"))
		}
		t.posts[[2]int32{r, s}] = l.intField(f, i, "post_m", 0, 0, 1e8)
	}

	f = l.file("fare_time_rules.txt")
	for i := range f.rows {
		p, ok := l.productRef(f, i, "fare_product_id", true, "the row is ignored")
		if p < 0 || !ok {
			continue
		}
		var r timeRule
		if r.cat, ok = l.defRef(f, i, "rider_category_id", &t.catIDs, "rider category", "the row is ignored"); !ok {
			continue
		}
		r.freeS = 60 * l.intField(f, i, "free_minutes", 0, 0, 366*24*60)
		switch v := f.get(i, "charge_free_minutes"); v {
		case "", "0":
		case "1":
			r.chargeFree = true
		default:
			l.errf(f, i, "charge_free_minutes", "%q is not 0 or 1", v)
		}
		r.firstS = 60 * l.intField(f, i, "first_period_minutes", 0, 0, 24*60)
		r.firstAmount = l.amountField(f, i, "first_period_amount", r.firstS > 0)
		if _, ok := l.required(f, i, "period_minutes"); ok {
			r.periodS = 60 * l.intField(f, i, "period_minutes", 0, 1, 24*60)
		}
		r.periodAmount = l.amountField(f, i, "period_amount", true)
		r.dayCap = l.amountField(f, i, "day_cap_amount", false)
		if r.firstAmount < 0 || r.periodAmount < 0 || r.dayCap < 0 {
			l.errf(f, i, "period_amount", "time fare amounts are not negative")
		}
		for _, o := range t.products[p].time {
			if o.cat == r.cat {
				l.errf(f, i, "rider_category_id", "product %q has a time rule for this rider category already", t.products[p].id)
			}
		}
		t.products[p].time = append(t.products[p].time, r)
	}
	l.growCats()

	f = l.file("fare_held_products.txt")
	for i := range f.rows {
		p, ok := l.productRef(f, i, "fare_product_id", true, "the row is ignored")
		if p < 0 || !ok {
			continue
		}
		var kind HeldKind
		switch v := f.get(i, "kind"); v {
		case "pass":
			kind = Pass
		case "count_ticket":
			kind = CountTicket
		default:
			l.errf(f, i, "kind", "%q is not pass or count_ticket", v)
			continue
		}
		h := t.products[p].held
		if h == nil {
			h = &heldProduct{kind: kind}
			t.products[p].held = h
		} else if h.kind != kind {
			l.errf(f, i, "kind", "product %q is a %v in an earlier row", t.products[p].id, h.kind)
		}
		if f.get(i, "network_id") != "" {
			h.networks = append(h.networks, l.ref(f, i, "network_id", &t.networks, "network"))
		}
		h.dailyLimit = int(l.intField(f, i, "daily_ride_limit", int64(h.dailyLimit), 0, 255))
		h.priority = int(l.intField(f, i, "priority", int64(h.priority), 0, 255))
		h.rides = int(l.intField(f, i, "rides", int64(h.rides), 0, 65535))
		h.days = int(l.intField(f, i, "validity_days", int64(h.days), 0, 3660))
		if kind == CountTicket && h.rides == 0 && f.get(i, "rides") == "" {
			l.errf(f, i, "rides", "required for a count ticket")
		}
	}

	f = l.file("fare_caps.txt")
	for i := range f.rows {
		var c capRule
		var ok bool
		if c.cat, ok = l.defRef(f, i, "rider_category_id", &t.catIDs, "rider category", "the cap is ignored"); !ok {
			continue
		}
		if c.period = CapPeriod(l.choice(f, i, "period", periodNames[:]...)); c.period == 0 {
			continue
		}
		c.amount = l.amountField(f, i, "amount", true)
		if c.amount < 0 {
			l.errf(f, i, "amount", "a cap is not negative")
		}
		for _, o := range t.caps {
			if o.cat == c.cat && o.period == c.period {
				l.errf(f, i, "period", "a %s cap for this rider category is given already", f.get(i, "period"))
			}
		}
		t.caps = append(t.caps, c)
	}
	l.growCats()

	// Sizes of the per-id slices, now that every id is interned.
	for len(t.routeNet) < t.routes.n() {
		t.routeNet = append(t.routeNet, -1)
	}
	l.growStops()
	t.networkMax = make([]int32, t.networks.n())
	t.uncapped = make([]bool, t.networks.n())
	for n := range uncapped {
		t.uncapped[n] = true
	}
	t.netCode = make([]uint16, t.networks.n())
	t.hasNetCode = make([]bool, t.networks.n())
	for n := range t.networkMax {
		t.networkMax[n] = -1
		if m, ok := max[int32(n)]; ok {
			t.networkMax[n] = m
		}
		if c, ok := netCode[int32(n)]; ok {
			t.netCode[n], t.hasNetCode[n] = c, true
		}
	}
	t.prodCode = make([]uint16, len(t.products))
	for p, c := range prodCode {
		if p >= 0 {
			t.prodCode[p] = c
		}
	}
}

// compile builds the indexes pricing uses.
func (l *loader) compile() {
	t := l.t
	// Areas of a stop include those of its parent station.
	for s := range t.stopAreas {
		if p := t.stopParent[s]; p >= 0 {
			for _, a := range t.stopAreas[p] {
				if !slices.Contains(t.stopAreas[s], a) {
					t.stopAreas[s] = append(t.stopAreas[s], a)
				}
			}
		}
	}
	t.fromListed = make([]bool, t.areas.n())
	t.toListed = make([]bool, t.areas.n())
	netListed := make([]bool, t.networks.n())
	for _, r := range t.rules {
		if r.fromArea >= 0 {
			t.fromListed[r.fromArea] = true
		}
		if r.toArea >= 0 {
			t.toListed[r.toArea] = true
		}
		if r.network >= 0 {
			netListed[r.network] = true
		}
	}
	// rulesFor[n+1] holds the rules that can match a leg on network n, by
	// priority, highest first, then in file order.
	t.rulesFor = make([][]int32, t.networks.n()+1)
	for n := -1; n < t.networks.n(); n++ {
		var list []int32
		for ri, r := range t.rules {
			switch {
			case r.never:
				continue
			case r.network == int32(n) && n >= 0:
			case r.network < 0 && (t.priorityMode || n < 0 || !netListed[n]):
			default:
				continue
			}
			list = append(list, int32(ri))
		}
		sort.SliceStable(list, func(a, b int) bool { return t.rules[list[a]].priority > t.rules[list[b]].priority })
		t.rulesFor[n+1] = list
	}
	t.fromGrpListed = make([]bool, t.groups.n())
	t.toGrpListed = make([]bool, t.groups.n())
	for _, r := range t.transfers {
		if r.from >= 0 {
			t.fromGrpListed[r.from] = true
		}
		if r.to >= 0 {
			t.toGrpListed[r.to] = true
		}
	}
	t.capsByCat = make([][3]int64, len(t.cats)+1)
	for c := range t.capsByCat {
		for p := CapDay; p <= CapMonth; p++ {
			t.capsByCat[c][p-1] = t.capFor(int32(c)-1, p)
		}
	}
	l.warnDefaultPrice()
	l.warnNoMaxFare()
	l.t.stopNames, l.t.otherNames = l.splitNames()
}

// warnNoMaxFare warns of each network without a maximum fare whose leg
// rules need the tap-off: a rule with a to_area_id or a distance band
// prices a leg only once its exit is known, and
// the maximum fare is what a leg whose tap-off is missing costs. Without
// one such a leg cannot be charged. The warning names the network's
// fare_networks.txt row (or the file, when the network has none) and the
// first rule that needs the tap-off; a rule that never matches does not
// count.
func (l *loader) warnNoMaxFare() {
	t := l.t
	f := l.file("fare_networks.txt")
	warned := make([]bool, t.networks.n())
	for _, r := range t.rules {
		if r.never || r.network < 0 || warned[r.network] || t.networkMax[r.network] >= 0 {
			continue
		}
		var why string
		switch {
		case r.toArea >= 0:
			why = "to_area_id"
		case r.minDistM >= 0 || r.maxDistM >= 0:
			why = "a distance band"
		default:
			continue
		}
		warned[r.network] = true
		id := t.networks.list[r.network]
		row, field := -1, "network_id"
		for i := range f.rows {
			if f.get(i, "network_id") == id {
				row, field = i, "max_fare_product_id"
				break
			}
		}
		l.warnf(f, row, field, "network %q has no maximum fare, and its fare rules need the tap-off (fare_leg_rules.txt:%d: %s): a leg whose tap-off is missing cannot be charged", id, r.line, why)
	}
}

// warnDefaultPrice warns of each rider category without a fare_percent
// that a product prices from the default category's row for want of one
// of its own: the category pays the default category's price, which may
// be what the feed means, or a fare_percent forgotten.
func (l *loader) warnDefaultPrice() {
	t := l.t
	if t.defaultCat < 0 {
		return
	}
	for c := range t.cats {
		cat := &t.cats[c]
		if int32(c) == t.defaultCat || cat.hasPercent {
			continue
		}
		for p := range t.products {
			own, dflt := false, false
			for _, v := range t.products[p].variants {
				own = own || v.cat == int32(c)
				dflt = dflt || v.cat == t.defaultCat
			}
			if dflt && !own {
				l.warns = append(l.warns, &FieldError{File: "rider_categories.txt", Line: cat.line, Field: "fare_percent",
					Msg: fmt.Sprintf("rider category %q has no fare_percent and product %q no row for it: it pays the default category's price", cat.id, t.products[p].id)})
				break
			}
		}
	}
}

func (l *loader) splitNames() (map[string]string, map[string]string) {
	stops, others := map[string]string{}, map[string]string{}
	for k, v := range l.names {
		if v == "" {
			continue
		}
		if id, ok := strings.CutPrefix(k, "stop:"); ok {
			stops[id] = v
		} else {
			others[k] = v
		}
	}
	return stops, others
}
