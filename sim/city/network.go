package city

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"slices"
	"strings"
	"testing/fstest"
)

// The fare codes of the network files: the networks are Ningbo's
// (fare/testdata/ningbo/fare_codes.txt), the rest is the city's.
const (
	netBus      = 1
	netMetro    = 2
	netBike     = 3
	netParking  = 4
	netSuburban = 5
)

// Rider categories, as fare_codes.txt numbers them (Ningbo's).
const (
	catAdult    = 0
	catStudent  = 1
	catSenior   = 2 // 70 and over: free
	catSenior60 = 3 // 60 to 69: half
	catDisabled = 4 // free
)

// Fare products the cards hold (Ningbo's codes).
const (
	prodBusMonthly     = 101
	prodStudentMonthly = 102
	prodBus10Rides     = 103
)

// Card types: the fare media code each card carries. Both map to the
// feed's "citycard" medium, which the transfer discounts ask for.
const (
	cardTypeOurs     = 1 // a card of our issuer
	cardTypeNational = 2 // a national interconnection (交通联合) card of another city
)

// ningboRules are the fare files of fare/testdata/ningbo the city prices
// with, byte for byte (TestFeedRulesAreNingbos keeps them so): products,
// distance bands, transfers, rider categories, time fares, passes and
// caps. The files that describe a network (stops, routes, distances,
// codes) are the city's own, drawn from the seed (see network.feed).
var ningboRules = map[string]string{
	"agency.txt": `agency_id,agency_name,agency_url,agency_timezone
bus,City Bus,https://example.org/bus,Asia/Shanghai
metro,City Metro,https://example.org/metro,Asia/Shanghai
`,
	"areas.txt": `area_id,area_name
city,市区 city
fenghua,奉化 Fenghua
`,
	"calendar_dates.txt": `service_id,date,exception_type
weekdays,20251001,2
`,
	"fare_caps.txt": `rider_category_id,period,amount
adult,day,10.00
adult,week,40.00
student,day,5.00
,month,150.00
`,
	"fare_held_products.txt": `fare_product_id,kind,network_id,rides,validity_days,daily_ride_limit
bus_monthly,pass,bus,,31,4
student_monthly,pass,bus,,31,
student_monthly,pass,metro,,31,
bus_10_rides,count_ticket,bus,10,365,
`,
	"fare_leg_rules.txt": `leg_group_id,network_id,from_area_id,to_area_id,from_timeframe_group_id,to_timeframe_group_id,fare_product_id,rule_priority,min_distance_m,max_distance_m
bus,bus,,,,,bus_single,0,,
bus,bus,,,night,,bus_night,1,,
metro,metro,,,,,metro_2,0,,6000
metro,metro,,,,,metro_3,0,6000,12000
metro,metro,,,,,metro_4,0,12000,18000
metro,metro,,,,,metro_5,0,18000,24000
metro,metro,,,,,metro_6,0,24000,34000
metro,metro,,,,,metro_7,0,34000,44000
metro,metro,,,,,metro_8,0,44000,
suburban,suburban,city,city,,,suburban_2,0,,
suburban,suburban,city,fenghua,,,suburban_4,0,,
suburban,suburban,fenghua,city,,,suburban_4,0,,
suburban,suburban,fenghua,fenghua,,,suburban_2,0,,
bike,bike,,,,,bike_time,0,,
parking,parking,,,,,parking_time,0,,
`,
	"fare_media.txt": `fare_media_id,fare_media_name,fare_media_type
cash,现金 cash,0
citycard,市民卡/交通卡 city card,2
qrcode,乘车码 QR code,4
`,
	"fare_networks.txt": `network_id,max_fare_product_id,capped,overtime_minutes,overtime_product_id,same_station_product_id,same_station_free_minutes,min_balance_amount
bus,,1,,,,,
metro,metro_max,1,120,metro_max,metro_2,10,2.00
suburban,suburban_4,1,,,,,
bike,bike_max,0,,,,,
parking,parking_max,0,,,,,
`,
	"fare_products.txt": `fare_product_id,fare_product_name,rider_category_id,fare_media_id,amount,currency
bus_single,公交单程 bus single,adult,,2.00,CNY
bus_night,夜班公交 night bus,adult,,3.00,CNY
bus_transfer,公交换乘 bus-bus transfer,adult,citycard,1.00,CNY
xfer_discount,公交地铁换乘优惠 bus-metro transfer discount,adult,citycard,-1.00,CNY
metro_2,地铁 0-6 km,adult,,2.00,CNY
metro_3,地铁 6-12 km,adult,,3.00,CNY
metro_4,地铁 12-18 km,adult,,4.00,CNY
metro_5,地铁 18-24 km,adult,,5.00,CNY
metro_6,地铁 24-34 km,adult,,6.00,CNY
metro_7,地铁 34-44 km,adult,,7.00,CNY
metro_8,地铁 44 km+,adult,,8.00,CNY
metro_max,地铁最高票价 metro maximum fare,adult,,8.00,CNY
suburban_2,郊区公交 one zone,adult,,2.00,CNY
suburban_4,郊区公交 two zones,adult,,4.00,CNY
bike_time,公共自行车 bike hire,,,0.00,CNY
bike_max,公共自行车未还车 bike not returned,,,50.00,CNY
parking_time,路边停车 street parking,,,0.00,CNY
parking_max,停车未结算 parking not closed,,,40.00,CNY
bus_monthly,公交月票 bus monthly pass,adult,,60.00,CNY
student_monthly,学生月票 student monthly pass,student,,30.00,CNY
bus_10_rides,公交10次卡 bus 10-ride ticket,adult,,18.00,CNY
`,
	"fare_time_periods.txt": `fare_product_id,rider_category_id,start_time,end_time,from_minutes,to_minutes,unit_minutes,unit_amount,free_minutes,window_cap_amount,day_cap_amount
bike_time,,,,0,60,60,0.00,,,10.00
bike_time,,,,60,,60,1.00,,,10.00
`,
	"fare_time_rules.txt": `fare_product_id,rider_category_id,free_minutes,charge_free_minutes,first_period_minutes,first_period_amount,period_minutes,period_amount,day_cap_amount
parking_time,,15,1,60,5.00,30,2.00,40.00
`,
	"fare_transfer_rules.txt": `from_leg_group_id,to_leg_group_id,transfer_count,duration_limit,duration_limit_type,fare_transfer_type,fare_product_id
bus,bus,1,5400,1,0,bus_transfer
bus,metro,,5400,1,1,xfer_discount
metro,bus,,5400,1,1,xfer_discount
`,
	"networks.txt": `network_id,network_name
bus,城市公交 city bus
metro,轨道交通 metro
suburban,郊区公交 suburban bus
bike,公共自行车 public bikes
parking,路边停车 street parking
`,
	"rider_categories.txt": `rider_category_id,rider_category_name,is_default_fare_category,eligibility_url,fare_percent
adult,普通 adult,1,,
student,学生 student,0,,50
senior,老年人(70岁以上) senior 70+,0,,0
senior60,老年人(60-69岁) senior 60-69,0,,50
disabled,残疾人 disabled,0,,0
`,
	"timeframes.txt": `timeframe_group_id,start_time,end_time,service_id
night,22:00:00,24:00:00,daily
night,00:00:00,05:00:00,daily
`,
}

// metroLine is a metro line: its platforms in order along it.
type metroLine struct {
	code      uint32 // the line as records carry it
	platforms []int  // indices into network.platforms
}

// platform is one line's stop at a station.
type platform struct {
	line    int    // index into network.metro
	code    uint32 // the station code records carry: line*100 + position + 1
	stopID  string // the feed's stop
	postM   int    // kilometre post along the line, in metres
	station int    // the physical station (index into network.stations)
}

// station is a physical metro station: one platform, or several at an
// interchange. Its gates stand on its first platform's code.
type station struct {
	name      string
	platforms []int
}

// coachLine is an intercity or rural coach line from the city's coach
// station out to towns: stops in the feed's areas "city" and "fenghua"
// (the outer district), priced by zone.
type coachLine struct {
	code  uint32
	stops []uint32 // station codes; the first is the city's coach station
}

// network is the city's transport network and what the feed says of it.
type network struct {
	metro     []metroLine
	platforms []platform
	stations  []station
	distM     [][]int32 // metres between platforms, by the shortest path
	busLines  []uint32  // bus line codes
	coach     []coachLine
	docks     int // bike docks: station codes 3001..
	zones     int // parking zones: station codes 4001..
}

// size says how big each part of the network is for a city of n cards.
type size struct {
	metroLines, stationsPerLine, busLines, coachLines, docks, zones int
}

func sizeFor(cards int) size {
	return size{
		metroLines:      clamp(2+cards/25000, 2, 8),
		stationsPerLine: clamp(10+cards/4000, 10, 28),
		busLines:        clamp(cards/600, 4, 300),
		coachLines:      clamp(cards/15000, 1, 6),
		docks:           clamp(cards/800, 4, 200),
		zones:           clamp(cards/2000, 2, 50),
	}
}

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }

// newNetwork draws the network: metro lines with stations 0.8 to 3.5 km
// apart, crossing each other at interchanges; bus lines; coach lines out
// to the towns; bike docks and parking zones.
func newNetwork(rng *rand.Rand, sz size) *network {
	n := &network{docks: sz.docks, zones: sz.zones}
	for l := 0; l < sz.metroLines; l++ {
		ml := metroLine{code: uint32(l + 1)}
		post := 0
		for i := 0; i < sz.stationsPerLine; i++ {
			if i > 0 {
				post += 800 + 100*rng.IntN(28)
			}
			p := platform{line: l, code: uint32((l+1)*100 + i + 1), stopID: fmt.Sprintf("m%d_%02d", l+1, i+1), postM: post, station: -1}
			ml.platforms = append(ml.platforms, len(n.platforms))
			n.platforms = append(n.platforms, p)
		}
		n.metro = append(n.metro, ml)
	}
	// Interchanges: each later line crosses each earlier one with
	// probability 3/4, and at least one, so that the network is
	// connected, at a station of each not yet an interchange.
	cross := func(l, m int) bool {
		for try := 0; try < 16; try++ {
			a := n.metro[l].platforms[1+rng.IntN(len(n.metro[l].platforms)-2)]
			b := n.metro[m].platforms[1+rng.IntN(len(n.metro[m].platforms)-2)]
			if n.platforms[a].station >= 0 || n.platforms[b].station >= 0 {
				continue
			}
			s := len(n.stations)
			n.stations = append(n.stations, station{name: fmt.Sprintf("x%d", s), platforms: []int{b, a}})
			n.platforms[a].station, n.platforms[b].station = s, s
			return true
		}
		return false
	}
	for l := 1; l < len(n.metro); l++ {
		crossed := false
		for m := 0; m < l; m++ {
			if rng.IntN(4) != 0 {
				crossed = cross(l, m) || crossed
			}
		}
		for !crossed {
			crossed = cross(l, rng.IntN(l))
		}
	}
	for i := range n.platforms {
		if n.platforms[i].station < 0 {
			n.platforms[i].station = len(n.stations)
			n.stations = append(n.stations, station{name: n.platforms[i].stopID, platforms: []int{i}})
		}
	}
	// Gates stand on the platform of the lowest line: an interchange's
	// platforms are listed that way.
	for s := range n.stations {
		slices.SortFunc(n.stations[s].platforms, func(x, y int) int { return n.platforms[x].line - n.platforms[y].line })
	}
	n.distM = shortestPaths(n)
	for b := 0; b < sz.busLines; b++ {
		n.busLines = append(n.busLines, uint32(b+1))
	}
	for c := 0; c < sz.coachLines; c++ {
		cl := coachLine{code: uint32(901 + c), stops: []uint32{5000}}
		for j := 0; j < 2+rng.IntN(3); j++ {
			cl.stops = append(cl.stops, uint32(5000+10*(c+1)+j+1))
		}
		n.coach = append(n.coach, cl)
	}
	return n
}

// shortestPaths computes the metres between every two platforms: along
// the lines, changing at interchanges for nothing (Floyd-Warshall; a
// city has at most a few hundred platforms).
func shortestPaths(n *network) [][]int32 {
	const inf = int32(1 << 30)
	k := len(n.platforms)
	d := make([][]int32, k)
	for i := range d {
		d[i] = make([]int32, k)
		for j := range d[i] {
			d[i][j] = inf
		}
		d[i][i] = 0
	}
	for _, ml := range n.metro {
		for i := 1; i < len(ml.platforms); i++ {
			a, b := ml.platforms[i-1], ml.platforms[i]
			w := int32(n.platforms[b].postM - n.platforms[a].postM)
			d[a][b], d[b][a] = w, w
		}
	}
	for _, s := range n.stations {
		for _, a := range s.platforms {
			for _, b := range s.platforms {
				d[a][b] = 0
			}
		}
	}
	for m := 0; m < k; m++ {
		for i := 0; i < k; i++ {
			dim := d[i][m]
			if dim == inf {
				continue
			}
			for j := 0; j < k; j++ {
				if v := dim + d[m][j]; v < d[i][j] {
					d[i][j] = v
				}
			}
		}
	}
	return d
}

// gatePlatform is the platform a station's gates stand on.
func (n *network) gatePlatform(s int) *platform { return &n.platforms[n.stations[s].platforms[0]] }

// tripM is the metres between the gates of two stations.
func (n *network) tripM(from, to int) int32 {
	return n.distM[n.stations[from].platforms[0]][n.stations[to].platforms[0]]
}

// feed writes the city's fare table: Ningbo's fare rules over the city's
// network. version names the table (terminals and records carry it).
func (n *network) feed(version string, firstDay, lastDay string) fs.FS {
	files := fstest.MapFS{}
	for name, body := range ningboRules {
		files[name] = &fstest.MapFile{Data: []byte(body)}
	}
	put := func(name string, b *strings.Builder) { files[name] = &fstest.MapFile{Data: []byte(b.String())} }
	var b strings.Builder

	fmt.Fprintf(&b, "feed_publisher_name,feed_publisher_url,feed_lang,feed_version\nsimulated city (citycard sim),https://example.org/citycard,zh-CN,%s\n", version)
	put("feed_info.txt", &b)

	b.Reset()
	b.WriteString("service_id,monday,tuesday,wednesday,thursday,friday,saturday,sunday,start_date,end_date\n")
	fmt.Fprintf(&b, "daily,1,1,1,1,1,1,1,%s,%s\nweekdays,1,1,1,1,1,0,0,%s,%s\n", firstDay, lastDay, firstDay, lastDay)
	put("calendar.txt", &b)

	b.Reset()
	b.WriteString("route_id,agency_id,route_short_name,route_long_name,route_type\n")
	for _, l := range n.busLines {
		fmt.Fprintf(&b, "b%d,bus,%d,bus line %d,3\n", l, l, l)
	}
	for _, ml := range n.metro {
		fmt.Fprintf(&b, "m%d,metro,%d,metro line %d,1\n", ml.code, ml.code, ml.code)
	}
	for _, cl := range n.coach {
		fmt.Fprintf(&b, "s%d,bus,%d,coach line %d,3\n", cl.code, cl.code, cl.code)
	}
	b.WriteString("bike,bus,BIKE,public bikes,3\n")
	put("routes.txt", &b)

	b.Reset()
	b.WriteString("network_id,route_id\n")
	for _, l := range n.busLines {
		fmt.Fprintf(&b, "bus,b%d\n", l)
	}
	for _, ml := range n.metro {
		fmt.Fprintf(&b, "metro,m%d\n", ml.code)
	}
	for _, cl := range n.coach {
		fmt.Fprintf(&b, "suburban,s%d\n", cl.code)
	}
	b.WriteString("bike,bike\n")
	put("route_networks.txt", &b)

	b.Reset()
	b.WriteString("stop_id,stop_name,location_type,parent_station\n")
	for _, s := range n.stations {
		if len(s.platforms) > 1 {
			fmt.Fprintf(&b, "%s,interchange %s,1,\n", s.name, s.name)
		}
	}
	for _, p := range n.platforms {
		parent := ""
		if s := n.stations[p.station]; len(s.platforms) > 1 {
			parent = s.name
		}
		fmt.Fprintf(&b, "%s,metro %s,0,%s\n", p.stopID, p.stopID, parent)
	}
	coachStops := n.coachStops()
	for _, c := range coachStops {
		fmt.Fprintf(&b, "cs%d,coach stop %d,0,\n", c, c)
	}
	for d := 1; d <= n.docks; d++ {
		fmt.Fprintf(&b, "bk%d,bike dock %d,0,\n", d, d)
	}
	for z := 1; z <= n.zones; z++ {
		fmt.Fprintf(&b, "pk%d,parking zone %d,0,\n", z, z)
	}
	put("stops.txt", &b)

	b.Reset()
	b.WriteString("area_id,stop_id\n")
	for _, c := range coachStops {
		area := "fenghua"
		if c == 5000 {
			area = "city"
		}
		fmt.Fprintf(&b, "%s,cs%d\n", area, c)
	}
	put("stop_areas.txt", &b)

	b.Reset()
	b.WriteString("route_id,stop_id,post_m\n")
	for _, ml := range n.metro {
		for _, pi := range ml.platforms {
			fmt.Fprintf(&b, "m%d,%s,%d\n", ml.code, n.platforms[pi].stopID, n.platforms[pi].postM)
		}
	}
	put("route_stop_posts.txt", &b)

	// The operator's shortest-path table, one row for both directions:
	// every pair of platforms on two lines, and every pair on one line
	// that a shortcut over other lines brings closer than the posts do.
	b.Reset()
	b.WriteString("from_stop_id,to_stop_id,distance_m\n")
	for i := range n.platforms {
		for j := i + 1; j < len(n.platforms); j++ {
			pi, pj := n.platforms[i], n.platforms[j]
			if pi.line != pj.line || int(n.distM[i][j]) != max(pi.postM, pj.postM)-min(pi.postM, pj.postM) {
				fmt.Fprintf(&b, "%s,%s,%d\n", n.platforms[i].stopID, n.platforms[j].stopID, n.distM[i][j])
			}
		}
	}
	put("stop_distances.txt", &b)

	b.Reset()
	b.WriteString("kind,id,code,network_id\n")
	b.WriteString("network,bus,1,\nnetwork,metro,2,\nnetwork,bike,3,\nnetwork,parking,4,\nnetwork,suburban,5,\n")
	for _, l := range n.busLines {
		fmt.Fprintf(&b, "route,b%d,%d,bus\n", l, l)
	}
	for _, ml := range n.metro {
		fmt.Fprintf(&b, "route,m%d,%d,metro\n", ml.code, ml.code)
	}
	for _, cl := range n.coach {
		fmt.Fprintf(&b, "route,s%d,%d,suburban\n", cl.code, cl.code)
	}
	b.WriteString("route,bike,1,bike\n")
	for _, p := range n.platforms {
		fmt.Fprintf(&b, "stop,%s,%d,metro\n", p.stopID, p.code)
	}
	for _, c := range coachStops {
		fmt.Fprintf(&b, "stop,cs%d,%d,suburban\n", c, c)
	}
	for d := 1; d <= n.docks; d++ {
		fmt.Fprintf(&b, "stop,bk%d,%d,bike\n", d, 3000+d)
	}
	for z := 1; z <= n.zones; z++ {
		fmt.Fprintf(&b, "stop,pk%d,%d,parking\n", z, 4000+z)
	}
	b.WriteString("rider_category,adult,0,\nrider_category,student,1,\nrider_category,senior,2,\nrider_category,senior60,3,\nrider_category,disabled,4,\n")
	fmt.Fprintf(&b, "fare_product,bus_monthly,%d,\nfare_product,student_monthly,%d,\nfare_product,bus_10_rides,%d,\n", prodBusMonthly, prodStudentMonthly, prodBus10Rides)
	fmt.Fprintf(&b, "fare_media,citycard,%d,\nfare_media,citycard,%d,\n", cardTypeOurs, cardTypeNational)
	put("fare_codes.txt", &b)
	return files
}

// coachStops lists every coach stop code once, in order.
func (n *network) coachStops() []uint32 {
	var out []uint32
	for _, cl := range n.coach {
		for _, s := range cl.stops {
			if !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}
