// Package fare is the fare engine: it loads fare tables published as
// GTFS-Fares v2 feeds, with the extension files a Chinese city needs, and
// prices journeys with them. Terminals price taps with it offline (through
// terminal.FareEngine), and the back office re-rates post-paid journeys
// and checks the fares terminals charged. Pricing is pure: no I/O, no
// clock, no global state.
//
// # Data model
//
// Load reads the feed's files from an fs.FS, validates every row and
// compiles the feed into a Table. Every string id (network, route, stop,
// area, rider category, fare media, product, leg group, timeframe group,
// service) is interned as a dense int32 index, so that pricing looks ids
// up once per leg and then works on slices. Leg rules are bucketed per
// network (rulesFor), each bucket sorted by rule_priority, highest first;
// a stop carries the areas of its parent station; amounts are int64 minor
// units (fen) of the feed's one currency. Problems name their file, line
// and field (FieldError); those pricing cannot live with fail Load (an
// ErrorList of kind Invalid: a malformed value, a row wider or narrower
// than its header, a duplicate), the others are the Table's Warnings: a
// timeframe with no calendar, and every dangling reference (an id the
// file defining its kind lacks), whose rule or row then never applies
// (legRule.never, transferRule.never, or the row left out). Unknown files
// and columns are ignored.
//
// The GTFS reference gives an empty fare_leg_rules field two meanings,
// and both are kept: without a rule_priority column, an empty network_id
// (or from_area_id, to_area_id) matches only the networks (areas) no row
// names; with the column, it matches any, and only the matching rows of
// the highest priority count. An empty timeframe matches any time;
// timeframes are [start_time, end_time) on the days of their service.
// An empty transfer leg group matches the groups its column does not
// name.
//
// # Offers and the cheapest combination
//
// Price first resolves each leg (its network from the leg or its route,
// its stops, its distance: the leg's own distance_m, else
// stop_distances.txt, else the kilometre posts of route_stop_posts.txt),
// moves times past midnight where a leg starts before the one it follows,
// and joins consecutive legs that fare_leg_join_rules.txt joins into one
// effective leg. Then, as OpenTripPlanner does, each leg gets every offer
// the rules allow:
//   - the products of its matching fare_leg_rules rows, for the rider
//     category and fare media (rows naming the category; else rows for
//     every category, unscaled, and the default category's rows at the
//     category's fare_percent, of the whole leg fare with its time
//     charge unless the category has its own time rule; a category
//     without fare_percent pays the default category's price);
//   - its network's maximum fare when it cannot be priced for want of a
//     tap-off (or says so);
//   - each held product (pass, count ticket) valid on the leg's day and
//     network, with rides left and its daily limit not reached by the
//     legs before; the leg uses the first of them in heldBefore's order
//     (the search gives it no other choice), as a terminal meets the
//     legs in time order, before stored value;
//   - on a later leg, the product of each fare_transfer_rules row whose
//     from-leg group matched the leg before and whose to-leg group
//     matches this one within its duration_limit (inclusive), with
//     Requires naming the earlier leg and product. Type 0 (A+AB) charges
//     AB on the later leg, type 1 (A+AB+B) AB plus the leg's own product,
//     type 2 (AB) AB less what the earlier leg paid, never below zero.
//     A row without a product costs 0 (the reference): of types 0 and 2
//     the earlier leg's product covers the later leg (Offer.Covered, as
//     OpenTripPlanner reports a free transfer), of type 1 the later leg
//     pays its own product.
//
// The total is the cheapest combination that pays for every leg: a
// depth-first search over the legs, offers cheapest first, pruned by a
// lower bound, checking what only a whole combination knows: that the leg
// before a transfer was paid in the rule's from-group with the product
// it requires (or was itself a transfer), that a same-group chain keeps
// within transfer_count and within the duration from its first leg.
// Journeys are at most MaxLegs legs and the search has a node budget. A
// leg with no offer is not an error: the search passes it, the quote
// shows it unpriced (LegQuote.Priced false, no offers) and not Complete;
// only bad input (Table.checkLeg) fails Price. Fare caps then lower the
// chosen amounts, leg by leg, so that the spend of each capped period
// never passes the rider category's cap; a maximum fare is left out of
// the caps until its tap-off is known; so is an overtime surcharge,
// added after them and after spend tiers.
//
// # Spend tiers
//
// A spend tier (累计优惠, fare_tiers.txt) lowers a leg to a percent of
// its fare once the card has spent, or ridden, a threshold in a period
// (operating day, week, month, as caps count them). Leg by leg, before
// its caps, a leg gets the step in force for what each tier counted
// before it: Journey.Spend (its fen and its rides, what the card
// carries) and the legs before it in the journey on the networks the
// tier counts, at what they were charged after tiers and caps (what the
// card was debited); the leg that crosses a threshold pays the step in
// force at its start. The percent is of what the leg is charged after
// transfers, held products and rider categories (a student's 50%, then
// the tier's percent: percents multiply, rounded half away from zero
// once per step), and caps apply to what it leaves; of several tiers,
// the lowest percent applies, not their product. A held ride pays
// nothing and counts as a ride only if the tier says so; a maximum fare
// waiting for its tap-off is neither discounted nor counted. A tier's
// percent is 0 to 100: a tier never makes a journey dearer (caps only
// lower what tiers leave), which a property test checks. Legs the spend
// counts already (Journey.SpentLegs: a terminal's previous leg) are
// neither counted again nor lowered, so that a terminal need not undo
// their price. Periods are operating days
// (Table.OperatingDay: feed_info.txt's operating_day_end_time, midnight
// without it) and their weeks and months; so are held products' dates
// and daily limits. What a leg was charged before (Leg.ChargedFen) is
// settled against its fare: a refund or a supplement. No amount is ever
// negative. Explanations are built on demand from what pricing recorded,
// so that pricing itself formats no text: a warm Quote is reused without
// allocating.
//
// README.md's table "Semantics and decisions" names, for each rule of the
// reference and each decision citycard makes where the reference is
// silent, the one function that makes it.
//
// # Time fares by periods
//
// A fare_time_periods.txt stay is a sequence of units laid end to end
// from its start: each unit takes its length and price from the
// time-of-day window in force when it starts and from the period (a range
// of minutes from the start of the stay, not from the start of the
// window) its start falls in, and is paid whole once begun. So a stay
// crossing 21:00 pays the unit begun at 20:50 at the day rate and the
// next at the night rate, without cutting a unit at the boundary: the
// rate in force when a unit starts is the one a meter shows when it
// starts counting it. Caps (per window occurrence, per 24 hours from the
// start) take each unit, in time order, down to what they leave, so that
// a longer stay only adds units and never costs less, and a cap never
// makes a stay dearer. periodFare.fee counts the units of each run of one
// window occurrence, one period and one 24 hours at once: its work is the
// boundaries the stay crosses (periodFare.stepsMax), and stays are priced
// for at most 366 days (timeStayMaxS). The product's amount is a base;
// fare_percent and the maximum fare of a stay without an end time work as
// for fare_time_rules.txt: the rows of a product and category load as
// one of its time rules (timeRule.byPeriods), which Table.timeRuleFor
// picks for a rider category as it picks a fare_time_rules.txt row.
//
// # Extension files
//
// README.md documents them for feed authors; in short:
//   - fare_leg_rules.txt min_distance_m, max_distance_m: distance bands
//     (分段计费), a leg matching when min < distance <= max;
//   - stop_distances.txt (from_stop_id, to_stop_id, distance_m) and
//     route_stop_posts.txt (route_id, stop_id, post_m): leg distances;
//   - fare_time_rules.txt (fare_product_id, rider_category_id,
//     free_minutes, charge_free_minutes, first_period_minutes,
//     first_period_amount, period_minutes, period_amount,
//     day_cap_amount): time fares (分时计费) of parking and bikes;
//   - fare_time_periods.txt (fare_product_id, rider_category_id,
//     start_time, end_time, from_minutes, to_minutes, unit_minutes,
//     unit_amount, free_minutes, window_cap_amount, day_cap_amount):
//     time fares of any number of periods, each at its own price, with
//     rates by the time of day (杭州公共自行车, 北京路侧停车); a product
//     has these or fare_time_rules.txt rows, never both;
//   - fare_held_products.txt (fare_product_id, kind pass|count_ticket,
//     network_id, rides, validity_days, daily_ride_limit, priority):
//     products a card holds (月票, 年票, 次卡);
//   - fare_caps.txt (rider_category_id, period day|week|month, amount):
//     fare caps (封顶);
//   - fare_tiers.txt (tier_id, period day|week|month, threshold_kind
//     spend|rides, threshold, fare_percent, rider_category_id,
//     fare_media_id, held_rides_count) and fare_tier_networks.txt
//     (tier_id, network_id, discounted, counted): spend tiers (累计优惠);
//   - fare_networks.txt (network_id, max_fare_product_id, capped): the
//     maximum fare of a missing tap-off, and networks caps leave out; a
//     network whose rules need the exit (a to_area_id, a distance band)
//     without a maximum fare is a load warning (warnNoMaxFare);
//     and the metro rules (metro.go): overtime_minutes with
//     overtime_product_id (a stay in the paid area past the limit pays
//     the network's maximum fare as its fare, or the product on top of
//     its fare, uncapped), same_station_product_id and
//     same_station_free_minutes (an exit at the entry station pays that
//     fare, or nothing within the minutes: every offer of the leg charges
//     nothing, in the order of what it would, so that a transfer stays a
//     transfer), min_balance_amount (the balance a card needs to tap on,
//     which terminal.FareEngine checks: pricing has no balance). The
//     overtime and free exit rules need the leg's start and end times
//     from the journey, the same-station rules its two stops;
//   - fare_transfer_rules.txt min_from_leg_amount (what the earlier leg
//     paid, at least), discount_group_id and discount_window (one
//     transfer of the group per window, or per journey): conditions the
//     search checks on whole combinations (search.discountOK), so that
//     the cheapest combination still wins; a negative transfer product
//     never takes a leg below zero;
//   - rider_categories.txt fare_percent: a category's percent of the
//     default category's fares (student 50, senior 0);
//   - fare_codes.txt (kind, id, code, network_id): the numeric codes of
//     networks, routes (lines), stops (stations), rider categories, card
//     types (fare media) and products that cards and terminals carry;
//   - feed_info.txt feed_version (GTFS) is the table's version; without
//     it, a hash of the files; operating_day_end_time, when the operating
//     day (运营日) ends.
package fare
