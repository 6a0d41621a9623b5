package city

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/citycard/citycard"
)

// counts is a tally by name; JSON writes its keys sorted.
type counts map[string]int64

func (m counts) total() int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// Figures are what happened in the city: the tallies the report prints.
// Every field is a function of the seed and the configuration.
type Figures struct {
	Taps             int64  `json:"taps"` // taps and loads: every card presented to a terminal
	RecordsSealed    int64  `json:"records_sealed"`
	Loads            int64  `json:"loads"`
	LoadsFen         int64  `json:"loads_fen"`
	LoadedAtGate     int64  `json:"loaded_at_gate"`  // refused at a gate for the balance, loaded at the kiosk, let through
	LoadsTorn        int64  `json:"loads_torn"`      // loads cut by a tear at CREDIT (the rider asks again at once)
	LoadsRecovered   int64  `json:"loads_recovered"` // torn loads the card did credit, recovered by the next load's GET TRANSACTION PROOF
	LoadsSettled     int64  `json:"loads_settled"`   // unconfirmed loads card management settled from the card shadows
	CardsSold        int64  `json:"cards_sold"`      // our issuer's cards sold through card management
	CardsRegistered  int64  `json:"cards_registered"`
	Replacements     int64  `json:"replacements"`       // lost cards replaced at the counter where the loss was reported
	BalancesMoved    int64  `json:"balances_moved"`     // replacements whose cooling period ended: the new card issued holding the balance as of the report
	BalancesMovedFen int64  `json:"balances_moved_fen"` // the balances moved
	LateLosses       int64  `json:"late_losses"`        // old cards whose records came after their balance moved: the issuer bore them
	LateLossesFen    int64  `json:"late_losses_fen"`
	Refunds          int64  `json:"refunds"`     // cards handed back at a counter, refunded and closed
	RefundsFen       int64  `json:"refunds_fen"` // the balances refunded (the deposit and the fee apart)
	Greys            int64  `json:"grey_records"`
	GreysCommitted   int64  `json:"grey_records_committed"` // the card did debit
	GreysRecovered   int64  `json:"grey_records_recovered_at_tap"`
	TearsRetried     int64  `json:"tears_retried"`
	TearsWalkedAway  int64  `json:"tears_walked_away"`
	LostRefused      int64  `json:"lost_card_taps_refused"`
	Refusals         counts `json:"refusals"`
	Verdicts         counts `json:"verdicts"` // answers to the terminals' own uploads
	Flags            counts `json:"flags"`
	Rejections       counts `json:"rejections"`
	// FareMismatch counts the fare_mismatch flags by the kind of
	// terminal whose record was flagged: every fare here was charged by
	// the real fare engine, so each is a false alarm of the re-check.
	FareMismatch counts `json:"fare_mismatch_by_terminal"`
	// ClockExitBeforeEntry counts the clock flags of tap-offs whose
	// time is before their entry (a skewed gate's clock behind the
	// card's): the gate let the rider out and charged the leg, and the
	// back office flags its clock rightly, its fare unconfirmed by its
	// times.
	ClockExitBeforeEntry int64 `json:"clock_exit_before_entry"`
	Copies               struct {
		Batches  int64  `json:"batches"` // the simulator's duplicate and reordered copies answered
		Repeats  int64  `json:"repeats"` // batches sent again under their ID
		Verdicts counts `json:"verdicts"`
	} `json:"copies"`
	Batches         int64 `json:"batches"`
	UploadsDeferred int64 `json:"uploads_deferred"` // upload slots that left records queued, to retry later
	SyncFailures    int64 `json:"blacklist_sync_failures"`
	StartRetries    int64 `json:"back_office_start_retries"` // starts failed by the database, tried again
	// Remote top-ups (topups.go): paid through the staff API, claimed at
	// kiosks, expired (the sweeps refunded them to their payer) and
	// still pending at the end, by the back office's states.
	TopUpsPaid           int64 `json:"topups_paid"`
	TopUpsPaidFen        int64 `json:"topups_paid_fen"`
	TopUpsClaimed        int64 `json:"topups_claimed"`
	TopUpsClaimedFen     int64 `json:"topups_claimed_fen"`
	TopUpsExpired        int64 `json:"topups_expired"`
	TopUpsExpiredFen     int64 `json:"topups_expired_fen"`
	TopUpsPending        int64 `json:"topups_pending"`
	TopUpsPendingFen     int64 `json:"topups_pending_fen"`
	TopUpsSwept          int64 `json:"topups_swept"`           // expired by the sweeps, by their answers
	TopUpsReplayed       int64 `json:"topups_replayed"`        // payment notices sent twice, answered replayed
	TopUpClaimsTorn      int64 `json:"topup_claims_torn"`      // claims torn at CREDIT (claimed again at once)
	TopUpClaimsRecovered int64 `json:"topup_claims_recovered"` // torn claims the card did credit, recovered by the next claim
	// Loss refunds (refunds.go): lost cards refunded and closed instead
	// of replaced, after their cooling period.
	LossRefunds    int64 `json:"loss_refunds"`
	LossRefundsFen int64 `json:"loss_refunds_fen"` // the balances as of the loss report refunded
	// Damaged cards (damaged.go): reported damaged at a counter, then
	// replaced (their balance moved after the cooling period, counted in
	// BalancesMoved) or refunded from their shadow.
	Damaged           int64 `json:"damaged"`
	DamagedReplaced   int64 `json:"damaged_replaced"`
	DamagedRefunds    int64 `json:"damaged_refunds"`
	DamagedRefundsFen int64 `json:"damaged_refunds_fen"` // the balances as of the damage report refunded
	// RefundsReplayed are the refunds of lost and damaged cards sent
	// again, answered replayed; RefundApprovals those paying out more
	// than RefundApprovalFen, made once a supervisor approved them.
	RefundsReplayed int64 `json:"cut_refunds_replayed"`
	RefundApprovals int64 `json:"refund_approvals"`
	// Manual adjustments (adjust.go) of damaged and replaced cards, each
	// made once a supervisor approved it; the refused are debits past
	// what the card is owed, refused before a supervisor was asked.
	Adjustments      int64 `json:"adjustments"`
	AdjustCredits    int64 `json:"adjustment_credits"`
	AdjustCreditsFen int64 `json:"adjustment_credits_fen"`
	AdjustDebits     int64 `json:"adjustment_debits"`
	AdjustDebitsFen  int64 `json:"adjustment_debits_fen"`
	AdjustRefused    int64 `json:"adjustments_refused"`
	AdjustReplayed   int64 `json:"adjustments_replayed"`
	// The public bikes at the docks (bikes.go).
	Bikes BikeFigures `json:"bikes"`
	// Our cards in the counterpart cities and their INC files (travel.go).
	Travel TravelFigures `json:"travel"`
}

func (f *Figures) init() {
	f.Refusals, f.Verdicts, f.Flags, f.Rejections, f.FareMismatch, f.Copies.Verdicts = counts{}, counts{}, counts{}, counts{}, counts{}, counts{}
	f.Travel.Refused, f.Travel.Rejected = counts{}, counts{}
	f.Bikes.HiresRefused = counts{}
}

// Check is one invariant's verdict and its figures (or its first
// offender).
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Finding is something the run found that breaks no invariant but is
// worth a look: how often, and the first instance or the explanation.
type Finding struct {
	Name   string `json:"name"`
	Count  int64  `json:"count"`
	Detail string `json:"detail"`
}

// Timing is the run's wall-clock figures: the one part of the report
// that differs between two runs of a seed.
type Timing struct {
	BuildS       float64 `json:"build_s"`
	DaysS        float64 `json:"days_s"`
	FinalUploadS float64 `json:"final_upload_s"`
	CheckS       float64 `json:"check_s"`
	TotalS       float64 `json:"total_s"`
	TapsPerS     float64 `json:"taps_per_s"`
}

// CityFigures say what the city is made of.
type CityFigures struct {
	MetroLines   int            `json:"metro_lines"`
	Stations     int            `json:"metro_stations"`
	Interchanges int            `json:"interchanges"`
	BusLines     int            `json:"bus_lines"`
	CoachLines   int            `json:"coach_lines"`
	BikeDocks    int            `json:"bike_docks"`
	ParkingZones int            `json:"parking_zones"`
	Terminals    map[string]int `json:"terminals"` // by kind
	Operators    int            `json:"operators"`
	Issuers      int            `json:"issuers"`
	Personas     map[string]int `json:"cards_by_persona"`
	Profiles     map[string]int `json:"cards_by_profile"`
	Categories   map[string]int `json:"cards_by_rider_category"`
	Products     int            `json:"cards_with_products"`
	FareTable    string         `json:"fare_table"`
}

// Report is a run's outcome. Its JSON is the contract of `citycard sim
// --json`: the fields below, Timing apart, are the same byte for byte for
// the same seed, configuration and commit.
type Report struct {
	Seed           uint64      `json:"seed"`
	Cards          int         `json:"cards"`
	Days           int         `json:"days"`
	Start          string      `json:"start"`
	Alg            string      `json:"alg"`
	Faults         []string    `json:"faults"`
	City           CityFigures `json:"city"`
	Taps           int64       `json:"taps"`
	RecordsBooked  int64       `json:"records_booked"` // journaled as booked, suspense, recovered or load
	SpentFen       int64       `json:"spent_fen"`      // what the cards spent, by their balances
	Figures        Figures     `json:"figures"`
	FaultsInjected counts      `json:"faults_injected"`
	FaultsNotYet   []string    `json:"faults_not_yet"`
	// Cycles are the clearing cycles the city cleared and settled, one
	// a day and one for the last uploads.
	Cycles        []CycleFigures  `json:"cycles"`
	Checks        []Check         `json:"checks"`
	Invariants    map[string]bool `json:"invariants"`
	InvariantsNot []string        `json:"invariants_not_yet"`
	Violations    []string        `json:"violations"`
	// Findings are what the run found wrong that breaks no invariant:
	// false alarms, taps the fare table could not price.
	Findings []Finding `json:"findings"`
	Timing   Timing    `json:"timing"`
	// AppTaps are the taps at the application systems' gates, Apps
	// their figures by application (appscheck.go).
	AppTaps int64                 `json:"app_taps"`
	Apps    map[string]AppFigures `json:"apps"`
}

// OK reports whether every invariant held.
func (r *Report) OK() bool { return len(r.Violations) == 0 }

var categoryNames = map[uint8]string{catAdult: "adult", catStudent: "student", catSenior: "senior", catSenior60: "senior60", catDisabled: "disabled"}

func (c *City) report(booked int64) *Report {
	n := c.net
	cf := CityFigures{
		MetroLines: len(n.metro), Stations: len(n.stations), BusLines: len(n.busLines), CoachLines: len(n.coach),
		BikeDocks: n.docks, ParkingZones: n.zones, Terminals: map[string]int{}, Operators: len(c.operators), Issuers: len(c.issuers),
		Personas: map[string]int{}, Profiles: map[string]int{}, Categories: map[string]int{}, FareTable: c.table.Version(),
	}
	for _, s := range n.stations {
		if len(s.platforms) > 1 {
			cf.Interchanges++
		}
	}
	for _, d := range c.devs {
		cf.Terminals[d.kind.String()]++
	}
	var spent int64
	for _, r := range c.riders {
		cf.Personas[personaNames[r.persona]]++
		cf.Profiles[r.profile.String()]++
		cf.Categories[categoryNames[r.category]]++
		st := r.card.State()
		if len(st.Products) > 0 {
			cf.Products++
		}
		spent += r.startFen + r.loadsFen - st.BalanceFen
	}
	rep := &Report{
		Seed: c.cfg.Seed, Cards: c.cfg.Cards, Days: c.cfg.Days, Start: c.cfg.Start.Format("2006-01-02"), Alg: c.cfg.Alg.String(),
		Faults: []string{}, Findings: []Finding{}, City: cf, Taps: c.fig.Taps, RecordsBooked: booked, SpentFen: spent, Figures: c.fig,
		FaultsInjected: c.faults, Invariants: map[string]bool{}, Violations: []string{},
		InvariantsNot: []string{}, Cycles: []CycleFigures{},
	}
	for i := range c.recs {
		if c.recs[i].kind == recGenuine && !c.recs[i].ackedLocal {
			rep.Figures.RecordsSealed++
		}
	}
	if n := c.fig.FareMismatch.total(); n > 0 {
		rep.Findings = append(rep.Findings, Finding{Name: "fare_recheck_false_alarms", Count: n,
			Detail: "records flagged fare_mismatch, though the real fare engine charged every fare here (by terminal kind: " + joinCounts64(c.fig.FareMismatch) +
				"): the back office's re-check (terminal.FareEngine.Recheck) does not read them as the taps they were"})
	}
	ops := make([]string, 0, len(c.tapErrors))
	for op := range c.tapErrors {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		rep.Findings = append(rep.Findings, Finding{Name: "taps_refused_by_terminal_error:" + op, Count: c.tapErrors[op],
			Detail: "taps a terminal refused before any debit, with an error of its own (no record, no money moved); first: " + c.tapErrorFirst[op]})
	}
	for _, f := range c.cfg.Faults {
		rep.Faults = append(rep.Faults, string(f))
	}
	for f := range FaultsNotYet {
		rep.FaultsNotYet = append(rep.FaultsNotYet, string(f))
	}
	sort.Strings(rep.FaultsNotYet)
	for name := range InvariantsNotYet {
		rep.InvariantsNot = append(rep.InvariantsNot, name)
	}
	sort.Strings(rep.InvariantsNot)
	return rep
}

// Print writes the report as tables.
func (r *Report) Print(w io.Writer) {
	c := r.City
	fmt.Fprintf(w, "city (seed %d): %d cards over %d days from %s, %s keys, fare table %s\n", r.Seed, r.Cards, r.Days, r.Start, r.Alg, c.FareTable)
	fmt.Fprintf(w, "  %-30s %d lines, %d stations (%d interchanges)\n", "metro", c.MetroLines, c.Stations, c.Interchanges)
	fmt.Fprintf(w, "  %-30s %d bus lines, %d coach lines, %d bike docks, %d parking zones\n", "network", c.BusLines, c.CoachLines, c.BikeDocks, c.ParkingZones)
	fmt.Fprintf(w, "  %-30s %s\n", "terminals", joinCounts(c.Terminals))
	fmt.Fprintf(w, "  %-30s %s\n", "cards by persona", joinCounts(c.Personas))
	fmt.Fprintf(w, "  %-30s %s; %d with a pass or count ticket\n", "cards by profile", joinCounts(c.Profiles), c.Products)
	fmt.Fprintf(w, "  %-30s %s\n", "cards by rider category", joinCounts(c.Categories))
	fmt.Fprintf(w, "  %-30s %d operators, %d issuers (ours and %d visiting cities)\n", "parties", c.Operators, c.Issuers, c.Issuers-1)
	f := r.Figures
	fmt.Fprintln(w, "what happened")
	fmt.Fprintf(w, "  %-30s %d (%d records sealed)\n", "taps and loads", r.Taps, f.RecordsSealed)
	fmt.Fprintf(w, "  %-30s %d, %d registered to a cardholder\n", "cards sold by card management", f.CardsSold, f.CardsRegistered)
	fmt.Fprintf(w, "  %-30s %d, %s yuan of balance\n", "cards refunded", f.Refunds, citycard.Yuan(f.RefundsFen))
	fmt.Fprintf(w, "  %-30s %d replaced; %d balances moved after the cooling period, %s yuan; %d late losses borne, %s yuan\n", "lost cards replaced", f.Replacements, f.BalancesMoved, citycard.Yuan(f.BalancesMovedFen), f.LateLosses, citycard.Yuan(f.LateLossesFen))
	fmt.Fprintf(w, "  %-30s %d paid (%s yuan, %d notices twice); %d claimed at kiosks (%s yuan; %d torn, %d recovered); %d expired and refunded (%s yuan); %d pending\n", "remote top-ups",
		f.TopUpsPaid, citycard.Yuan(f.TopUpsPaidFen), f.TopUpsReplayed, f.TopUpsClaimed, citycard.Yuan(f.TopUpsClaimedFen), f.TopUpClaimsTorn, f.TopUpClaimsRecovered, f.TopUpsExpired, citycard.Yuan(f.TopUpsExpiredFen), f.TopUpsPending)
	fmt.Fprintf(w, "  %-30s %d refunded and closed after the cooling period, %s yuan of balance\n", "lost cards refunded", f.LossRefunds, citycard.Yuan(f.LossRefundsFen))
	fmt.Fprintf(w, "  %-30s %d reported at a counter: %d replaced, %d refunded from their shadow after the cooling period, %s yuan of balance and the deposit\n", "damaged cards",
		f.Damaged, f.DamagedReplaced, f.DamagedRefunds, citycard.Yuan(f.DamagedRefundsFen))
	fmt.Fprintf(w, "  %-30s %d refunds over %s yuan and %d adjustments, each asked by a clerk and approved by a supervisor; %d refunds sent again, replayed\n", "approvals",
		f.RefundApprovals, citycard.Yuan(RefundApprovalFen), f.Adjustments, f.RefundsReplayed)
	fmt.Fprintf(w, "  %-30s %d made: %d credits (%s yuan), %d debits (%s yuan); %d debits past what the card is owed refused; %d sent again, replayed\n", "manual adjustments",
		f.Adjustments, f.AdjustCredits, citycard.Yuan(f.AdjustCreditsFen), f.AdjustDebits, citycard.Yuan(f.AdjustDebitsFen), f.AdjustRefused, f.AdjustReplayed)
	b := &f.Bikes
	fmt.Fprintf(w, "  %-30s %d hires (refused %s); %d returns (%d after an hour, %d another day, %d unpaid), %s yuan of fares; %d overdue paid the maximum fare (%d closed at the next hire); %d out at the end (%d overdue)\n", "public bikes",
		b.Hires, orNone(joinCounts64(b.HiresRefused)), b.Returns, b.ReturnsLong, b.ReturnsLate, b.ReturnsUnpaid, citycard.Yuan(b.FaresFen), b.Overdue, b.OverdueAtHire, b.OutAtEnd, b.OverdueAtEnd)
	fmt.Fprintf(w, "  %-30s %d, %s yuan (%d let through a gate after loading)\n", "loads", f.Loads, citycard.Yuan(f.LoadsFen), f.LoadedAtGate)
	fmt.Fprintf(w, "  %-30s %d torn at CREDIT (%d credited and recovered at the next load); %d settled from the card shadows\n", "loads torn", f.LoadsTorn, f.LoadsRecovered, f.LoadsSettled)
	fmt.Fprintf(w, "  %-30s %s yuan\n", "spent by the cards", citycard.Yuan(r.SpentFen))
	fmt.Fprintf(w, "  %-30s %s\n", "refusals", orNone(joinCounts64(f.Refusals)))
	fmt.Fprintf(w, "  %-30s %d reported; %d taps refused after (blacklisted or blocked), %d records booked flagged blacklisted\n", "lost cards", r.FaultsInjected[string(FaultLost)], f.LostRefused, f.Flags["blacklisted"])
	fmt.Fprintf(w, "  %-30s %d (%d debited by the card; %d retried at once, %d walked away; %d recovered at a tap)\n", "torn taps (grey records)", f.Greys, f.GreysCommitted, f.TearsRetried, f.TearsWalkedAway, f.GreysRecovered)
	fmt.Fprintf(w, "  %-30s %d in %d batches (%d slots deferred)\n", "records answered", f.Verdicts.total(), f.Batches, f.UploadsDeferred)
	fmt.Fprintf(w, "  %-30s %s\n", "answers", joinCounts64(f.Verdicts))
	fmt.Fprintf(w, "  %-30s %s\n", "flags", orNone(joinCounts64(f.Flags)))
	fmt.Fprintf(w, "  %-30s %s\n", "fare mismatch flagged, by kind", orNone(joinCounts64(f.FareMismatch)))
	fmt.Fprintf(w, "  %-30s %d (a gate's clock behind the card's entry: let out, charged, flagged clock rightly)\n", "exit before entry, flagged", f.ClockExitBeforeEntry)
	fmt.Fprintf(w, "  %-30s %s\n", "rejections", orNone(joinCounts64(f.Rejections)))
	fmt.Fprintf(w, "  %-30s %d copies answered %s; %d batches repeated\n", "duplicate and reordered sends", f.Copies.Batches, orNone(joinCounts64(f.Copies.Verdicts)), f.Copies.Repeats)
	fmt.Fprintf(w, "  %-30s %d\n", "records booked", r.RecordsBooked)
	tv := &f.Travel
	fmt.Fprintf(w, "  %-30s %d rider-days, %d taps (%s yuan; refused %s); %d INC files (%d sent twice) of %d records: %d accepted (%s yuan), rejected %s; %d lost after\n", "our cards in other cities",
		tv.Travellers, tv.Taps, citycard.Yuan(tv.TapsFen), orNone(joinCounts64(tv.Refused)), tv.IncFiles, tv.IncResent, tv.Records, tv.Accepted, citycard.Yuan(tv.AcceptedFen), orNone(joinCounts64(tv.Rejected)), tv.Lost)
	r.printApps(w)
	if len(r.Findings) > 0 {
		fmt.Fprintln(w, "findings (no invariant broken; worth a look)")
		for _, fd := range r.Findings {
			fmt.Fprintf(w, "  %-30s %d: %s\n", fd.Name, fd.Count, fd.Detail)
		}
	}
	if len(r.Cycles) > 0 {
		fmt.Fprintln(w, "clearing and settlement")
		for _, cy := range r.Cycles {
			fmt.Fprintf(w, "  %-30s %s, range (%d, %d]: %d records claimed, %d cleared (%s yuan), %d pending their issuer, %d tapped earlier; %d positions, %s yuan paid out\n",
				"cycle "+cy.Day, cy.State, cy.RangeFrom, cy.RangeTo, cy.Claimed, cy.Cleared, citycard.Yuan(cy.ClearedFen), cy.Pending, cy.Late, cy.Positions, citycard.Yuan(cy.PaidFen))
			if cy.CrashAt != "" {
				fmt.Fprintf(w, "  %-30s crash armed %s: crashes %d, resumed from the state its store kept\n", "", cy.CrashAt, cy.Crashes)
			}
			for _, f := range cy.Files {
				fmt.Fprintf(w, "  %-30s %s  sha256 %s  %d bytes\n", "", f.Name, f.SHA256, f.Size)
			}
		}
	}
	fmt.Fprintln(w, "faults")
	fmt.Fprintf(w, "  %-30s %s\n", "injected", orNone(joinCounts64(r.FaultsInjected)))
	fmt.Fprintf(w, "  %-30s %s\n", "not simulated yet", orNone(strings.Join(r.FaultsNotYet, ", ")))
	fmt.Fprintln(w, "invariants")
	for _, ck := range r.Checks {
		verdict := "ok"
		if !ck.OK {
			verdict = "VIOLATED"
		}
		fmt.Fprintf(w, "  %-30s %-8s %s\n", ck.Name, verdict, ck.Detail)
	}
	for _, name := range r.InvariantsNot {
		fmt.Fprintf(w, "  %-30s %-8s %s\n", name, "not yet", InvariantsNotYet[name])
	}
	t := r.Timing
	fmt.Fprintf(w, "time: %.1f s (build %.1f, days %.1f, final uploads %.1f, checks %.1f): %.0f taps/s\n", t.TotalS, t.BuildS, t.DaysS, t.FinalUploadS, t.CheckS, t.TapsPerS)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func joinCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

func joinCounts64(m counts) string {
	mm := make(map[string]int, len(m))
	for k, v := range m {
		mm[k] = int(v)
	}
	return joinCounts(mm)
}
