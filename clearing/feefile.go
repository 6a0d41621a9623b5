package clearing

import (
	"io"
	"slices"
	"strconv"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/registry"
)

// Limits of a fee schedule file.
const (
	FeeFileBytesMax = 4 << 20 // a file of fee schedules
	FeeFileLinesMax = 1 << 16 // lines of it
	feeLineBytesMax = 4096    // one line
)

// FeeHeader is the first line of a fee schedule file, its columns in
// order (README.md, "Fee schedule files").
const FeeHeader = "party,effective,rule,products,card_types,channels,rate_ppm,fixed_fen,min_fen,max_fen"

var feeColumns = strings.Split(FeeHeader, ",")

// FeeVersion is one version of a party's fee schedule: the schedule in
// force from its Effective day (inclusive) until the party's next
// version's. A version, once stored, is never changed: a new schedule is
// a new version.
type FeeVersion struct {
	Effective Day
	Schedule  FeeSchedule
}

// DecodeFees reads a fee schedule file: the header FeeHeader, then one
// rule a line, the rules of one version (party, effective) on
// consecutive lines in the order they apply. Lists (products, card
// types, channels) are separated by "|", empty for any value; a max_fen
// of 0 is no cap. Blank lines and lines starting with "#" are skipped.
// The decoder is strict: no spaces, quotes, signs or leading zeros, no
// duplicate list values, no version given twice, and every rule valid
// (FeeRule's bounds). Kind Invalid, the error naming the file, the line
// and the field.
func DecodeFees(name string, r io.Reader) ([]FeeVersion, error) {
	const op = "clearing.DecodeFees"
	var out []FeeVersion
	seen := map[string]bool{} // party and effective day of the versions read
	err := readParamFile(op, name, r, FeeHeader, func(n int, fields []string, bad badField) error {
		if len(fields) != len(feeColumns) {
			return bad(-1, "%d fields, want %d (%s)", len(fields), len(feeColumns), FeeHeader)
		}
		party := fields[0]
		if party == "" || len(party) > registry.PartyIDLenMax || !plain(party) {
			return bad(0, "%q: want a party ID, 1 to %d letters, digits, '_', '-' or '.'", party, registry.PartyIDLenMax)
		}
		eff, err := ParseDay(fields[1])
		if err != nil {
			return bad(1, "%q: want YYYY-MM-DD", fields[1])
		}
		var rule FeeRule
		rule.Name = fields[2]
		if rule.Name == "" || len(rule.Name) > RuleNameMax || !plain(rule.Name) {
			return bad(2, "%q: want 1 to %d letters, digits, '_', '-' or '.'", rule.Name, RuleNameMax)
		}
		if rule.Products, err = feeList(fields[3], func(s string) (uint16, error) {
			v, err := feeInt(s, 0xffff)
			return uint16(v), err
		}); err != nil {
			return bad(3, "%v", err)
		}
		if rule.CardTypes, err = feeList(fields[4], func(s string) (uint8, error) {
			v, err := feeInt(s, 0xff)
			return uint8(v), err
		}); err != nil {
			return bad(4, "%v", err)
		}
		if rule.TerminalTypes, err = feeList(fields[5], func(s string) (registry.TerminalType, error) {
			t, err := registry.ParseTerminalType(s)
			if err != nil {
				return 0, errString("unknown channel " + strconv.Quote(s))
			}
			return t, nil
		}); err != nil {
			return bad(5, "%v", err)
		}
		for j, dst := range []*int64{&rule.RatePPM, &rule.FixedFen, &rule.MinFen, &rule.MaxFen} {
			max := int64(FeeFenMax)
			if j == 0 {
				max = RatePPMMax
			}
			if *dst, err = feeInt(fields[6+j], max); err != nil {
				return bad(6+j, "%v", err)
			}
		}
		if rule.MaxFen != 0 && rule.MaxFen < rule.MinFen {
			return bad(9, "cap %d below the minimum %d", rule.MaxFen, rule.MinFen)
		}
		key := party + "\x00" + fields[1]
		last := len(out) - 1
		if last >= 0 && out[last].Schedule.Party == party && out[last].Effective == eff {
			s := &out[last].Schedule
			if len(s.Rules) == RulesMax {
				return bad(2, "more than %d rules in the schedule of %s from %v", RulesMax, party, eff)
			}
			if slices.ContainsFunc(s.Rules, func(r FeeRule) bool { return r.Name == rule.Name }) {
				return bad(2, "%q: taken by an earlier rule of %s from %v", rule.Name, party, eff)
			}
			s.Rules = append(s.Rules, rule)
			return nil
		}
		if seen[key] {
			return bad(1, "the schedule of %s from %v was given earlier: its rules go on consecutive lines", party, eff)
		}
		seen[key] = true
		out = append(out, FeeVersion{Effective: eff, Schedule: FeeSchedule{Party: party, Rules: []FeeRule{rule}}})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, citycard.E(op, citycard.Invalid, "%s: no rules", name)
	}
	for _, v := range out {
		// A backstop: the decoder's checks are the rules' own.
		if err := v.Schedule.validate(op); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// EncodeFees writes versions in the file format DecodeFees reads, so
// that what `clear fees show` prints can be set again.
func EncodeFees(w io.Writer, versions []FeeVersion) error {
	var b strings.Builder
	b.WriteString(FeeHeader + "\n")
	for _, v := range versions {
		for _, r := range v.Schedule.Rules {
			b.WriteString(v.Schedule.Party + "," + v.Effective.String() + "," + r.Name + ",")
			b.WriteString(joinList(r.Products, func(p uint16) string { return strconv.Itoa(int(p)) }) + ",")
			b.WriteString(joinList(r.CardTypes, func(c uint8) string { return strconv.Itoa(int(c)) }) + ",")
			b.WriteString(joinList(r.TerminalTypes, registry.TerminalType.String) + ",")
			b.WriteString(strconv.FormatInt(r.RatePPM, 10) + "," + strconv.FormatInt(r.FixedFen, 10) + "," +
				strconv.FormatInt(r.MinFen, 10) + "," + strconv.FormatInt(r.MaxFen, 10) + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func joinList[T any](xs []T, f func(T) string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = f(x)
	}
	return strings.Join(s, "|")
}

type errString string

func (e errString) Error() string { return string(e) }

// feeInt parses a decimal integer 0 to max: digits only, no sign, no
// leading zero.
func feeInt(s string, max int64) (int64, error) {
	if s == "" {
		return 0, errString("empty: want a number")
	}
	if len(s) > 1 && s[0] == '0' {
		return 0, errString(strconv.Quote(s) + ": a leading zero")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, errString(strconv.Quote(s) + ": want digits only")
		}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v > max {
		return 0, errString(strconv.Quote(s) + ": want 0 to " + strconv.FormatInt(max, 10))
	}
	return v, nil
}

// feeList parses a "|"-separated list, empty for any value.
func feeList[T comparable](s string, parse func(string) (T, error)) ([]T, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, "|")
	if len(parts) > matchMax {
		return nil, errString(strconv.Itoa(len(parts)) + " values, at most " + strconv.Itoa(matchMax))
	}
	out := make([]T, 0, len(parts))
	for _, p := range parts {
		v, err := parse(p)
		if err != nil {
			return nil, err
		}
		if slices.Contains(out, v) {
			return nil, errString(strconv.Quote(p) + " given twice")
		}
		out = append(out, v)
	}
	return out, nil
}

// plain reports whether s is letters, digits, '_', '-' and '.' only.
func plain(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// InForce returns the schedules of versions in force on day d: per
// party, the version of the latest effective day on or before d; a party
// whose versions all begin after d has none. Sorted by party.
func InForce(versions []FeeVersion, d Day) []FeeSchedule {
	vs := VersionsInForce(versions, d)
	out := make([]FeeSchedule, len(vs))
	for i := range vs {
		out[i] = vs[i].Schedule
	}
	return out
}

// VersionsInForce returns the versions InForce takes the schedules of,
// sorted by party.
func VersionsInForce(versions []FeeVersion, d Day) []FeeVersion {
	return latestInForce(versions, d, func(v *FeeVersion) (string, Day) { return v.Schedule.Party, v.Effective })
}

// EncodeFeeVersion returns v in the file format: what a store keeps of
// a version, so that a stored version reads back through DecodeFees.
func EncodeFeeVersion(v FeeVersion) string {
	var b strings.Builder
	_ = EncodeFees(&b, []FeeVersion{v}) // a strings.Builder never fails
	return b.String()
}

// DecodeFeeVersion reads back what EncodeFeeVersion wrote; where names
// the store's row in an error. Kind Invalid.
func DecodeFeeVersion(where, text string) (FeeVersion, error) {
	vs, err := DecodeFees(where, strings.NewReader(text))
	if err != nil {
		return FeeVersion{}, err
	}
	if len(vs) != 1 {
		return FeeVersion{}, citycard.E("clearing.DecodeFeeVersion", citycard.Invalid, "%s: %d versions, want 1", where, len(vs))
	}
	return vs[0], nil
}

// WithFees returns a Clearer of c's configuration clearing under fees
// instead of its own. Kind Invalid as NewClearer.
func (c *Clearer) WithFees(fees []FeeSchedule) (*Clearer, error) {
	cfg := c.cfg
	cfg.Fees = fees
	return NewClearer(cfg)
}
