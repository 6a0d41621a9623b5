package clearing

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// The kinds of stored parameter versions beside the fee schedules.
const (
	ParamConcession = "concession" // a funder's concession shares (DecodeConcessions)
	ParamCommission = "commission" // a channel's commission schedule (the fee file format)
	ParamDebitCap   = "debit_cap"  // a party's net debit cap (DecodeCaps)
)

// ParamVersion is one stored version of a parameter: its kind, the
// party it is of (the funder, the channel, the capped party), the day it
// takes effect, and its text in its file format (header included), so
// that what a store reads back goes through the same decoder.
type ParamVersion struct {
	Kind      string
	Party     string
	Effective Day
	Text      string
}

// ParamStore keeps the versions of the concession shares, commission
// schedules and net debit caps. A stored version is never changed or
// removed.
type ParamStore interface {
	// AddParams stores vs, all or none, set by by at at. A version
	// (kind, party, effective day) stored already with the same text is
	// left as it is; with another text it is kind Exists, and nothing of
	// vs is stored.
	AddParams(ctx context.Context, vs []ParamVersion, by string, at time.Time) error
	// ParamVersions returns the stored versions of kind, by party, then
	// effective day.
	ParamVersions(ctx context.Context, kind string) ([]ParamVersion, error)
}

// SetConcessions has by store concession versions (DecodeConcessions),
// as SetFees stores fee schedules: all or none, none effective on or
// before the latest closed cycle (Conflict). Kinds of SetFees.
func (cs *Cycles) SetConcessions(ctx context.Context, vs []ConcessionVersion, by string) error {
	const op = "clearing.Cycles.SetConcessions"
	ps := make([]ParamVersion, len(vs))
	for i := range vs {
		if err := vs[i].validate(op); err != nil {
			return err
		}
		if err := cs.checkParties(ctx, op, &vs[i]); err != nil {
			return err
		}
		var b strings.Builder
		_ = EncodeConcessions(&b, vs[i:i+1]) // a strings.Builder never fails
		ps[i] = ParamVersion{ParamConcession, vs[i].Funder, vs[i].Effective, b.String()}
	}
	return cs.setParams(ctx, op, ps, by)
}

// SetCommissions has by store commission schedule versions (the fee file
// format, DecodeFees; a rule matches every load: its lists are empty), as
// SetConcessions. A commission of the collector is refused: the
// collector pays commissions. Kinds of SetConcessions.
func (cs *Cycles) SetCommissions(ctx context.Context, vs []FeeVersion, by string) error {
	const op = "clearing.Cycles.SetCommissions"
	ps := make([]ParamVersion, len(vs))
	for i := range vs {
		if err := checkCommission(op, &vs[i].Schedule); err != nil {
			return err
		}
		if vs[i].Schedule.Party == cs.Clearer.cfg.Collector {
			return citycard.E(op, citycard.Invalid, "commission schedule of %s: the collector pays commissions, it earns none", vs[i].Schedule.Party)
		}
		ps[i] = ParamVersion{ParamCommission, vs[i].Schedule.Party, vs[i].Effective, EncodeFeeVersion(vs[i])}
	}
	return cs.setParams(ctx, op, ps, by)
}

// SetCaps has by store net debit cap versions (DecodeCaps), as
// SetConcessions. Kinds of SetConcessions.
func (cs *Cycles) SetCaps(ctx context.Context, vs []CapVersion, by string) error {
	const op = "clearing.Cycles.SetCaps"
	ps := make([]ParamVersion, len(vs))
	for i, v := range vs {
		if v.CapFen < 0 || v.CapFen > AdjustmentFenMax || v.Party == "" {
			return citycard.E(op, citycard.Invalid, "net debit cap of %q: %d fen: want a party and 0 to %d", v.Party, v.CapFen, AdjustmentFenMax)
		}
		var b strings.Builder
		_ = EncodeCaps(&b, vs[i:i+1])
		ps[i] = ParamVersion{ParamDebitCap, v.Party, v.Effective, b.String()}
	}
	return cs.setParams(ctx, op, ps, by)
}

// setParams stores ps after SetFees's checks.
func (cs *Cycles) setParams(ctx context.Context, op string, ps []ParamVersion, by string) error {
	if err := checkStaff(op, by); err != nil {
		return err
	}
	if cs.Params == nil {
		return citycard.E(op, citycard.Other, "no parameter store")
	}
	closed, err := cs.lastClosed(ctx)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	for _, p := range ps {
		if closed != noDay && p.Effective <= closed {
			return citycard.E(op, citycard.Conflict, "%s of %s from %v: cycle %v is closed: a version takes effect after the latest closed cycle", p.Kind, p.Party, p.Effective, closed)
		}
	}
	if err := cs.Params.AddParams(ctx, ps, by, cs.Now()); err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	return nil
}

// Concessions returns every stored concession version. Kind Invalid for
// a stored text that does not decode.
func (cs *Cycles) Concessions(ctx context.Context) ([]ConcessionVersion, error) {
	var out []ConcessionVersion
	err := cs.readParams(ctx, ParamConcession, func(where, text string) error {
		vs, err := DecodeConcessions(where, strings.NewReader(text))
		out = append(out, vs...)
		return err
	})
	return out, err
}

// Commissions returns every stored commission schedule version.
func (cs *Cycles) Commissions(ctx context.Context) ([]FeeVersion, error) {
	var out []FeeVersion
	err := cs.readParams(ctx, ParamCommission, func(where, text string) error {
		v, err := DecodeFeeVersion(where, text)
		out = append(out, v)
		return err
	})
	return out, err
}

// Caps returns every stored net debit cap version.
func (cs *Cycles) Caps(ctx context.Context) ([]CapVersion, error) {
	var out []CapVersion
	err := cs.readParams(ctx, ParamDebitCap, func(where, text string) error {
		vs, err := DecodeCaps(where, strings.NewReader(text))
		out = append(out, vs...)
		return err
	})
	return out, err
}

// readParams calls fn with each stored version's text of kind; nothing
// without a parameter store.
func (cs *Cycles) readParams(ctx context.Context, kind string, fn func(where, text string) error) error {
	const op = "clearing.Cycles.readParams"
	if cs.Params == nil {
		return nil
	}
	ps, err := cs.Params.ParamVersions(ctx, kind)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	for _, p := range ps {
		if err := fn(fmt.Sprintf("stored %s of %s from %v", p.Kind, p.Party, p.Effective), p.Text); err != nil {
			return citycard.Wrap(op, citycard.Other, err)
		}
	}
	return nil
}

// checkParties checks that v's funder is a registered funder and each
// operator it names a registered operator (Cycles.PartyType; nil checks
// nothing). Kind NotFound for a party not registered, Invalid for one of
// another type.
func (cs *Cycles) checkParties(ctx context.Context, op string, v *ConcessionVersion) error {
	if cs.PartyType == nil {
		return nil
	}
	check := func(id string, want registry.PartyType, what string) error {
		t, err := cs.PartyType(ctx, id)
		switch {
		case citycard.IsKind(err, citycard.NotFound):
			return citycard.E(op, citycard.NotFound, "concessions of %s from %v: %s %s is not registered (register it as a party of type %v first)", v.Funder, v.Effective, what, id, want)
		case err != nil:
			return citycard.Wrap(op, citycard.Other, err)
		case t != want:
			return citycard.E(op, citycard.Invalid, "concessions of %s from %v: %s %s is a registered %v, not a party of type %v", v.Funder, v.Effective, what, id, t, want)
		}
		return nil
	}
	if err := check(v.Funder, registry.PartyFunder, "funder"); err != nil {
		return err
	}
	seen := map[string]bool{}
	for _, s := range v.Shares {
		if s.Operator == "" || seen[s.Operator] {
			continue
		}
		seen[s.Operator] = true
		if err := check(s.Operator, registry.PartyOperator, "operator"); err != nil {
			return err
		}
	}
	return nil
}
