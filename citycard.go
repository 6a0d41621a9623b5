// Package citycard holds the domain vocabulary shared by every part of the
// platform: the error type with its closed list of kinds, the identifiers
// that cross package boundaries (issuer codes, ASNs, terminal and PSAM IDs),
// and the dates, times and transaction types that cards and records write
// (datetime.go).
//
// The glossary of domain words lives in docs/glossary.md; one word, one
// meaning, in code, docs, API and console alike.
//
// Layout: domain packages (card, terminal, keys, record, ...) import this
// package and nothing of the infrastructure; cmd/citycard wires them.
package citycard

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Kind classifies an error so that callers (the HTTP layer, the CLI, the
// terminal) can react without parsing messages. The list only grows at the
// end: its values are stable.
type Kind uint8

// The kinds of error. Keep the order: new kinds go at the end.
const (
	Other        Kind = iota // unclassified error
	Invalid                  // malformed input: a field, a length, a format
	NotFound                 // the thing named does not exist
	Exists                   // the thing already exists (a duplicate)
	Permission               // the caller may not do this
	Crypto                   // a MAC, TAC or key check failed
	KeyMissing               // no key of that issuer, type or version
	Conflict                 // state forbids it now (order, blocked, expired)
	Insufficient             // not enough balance
	IO                       // storage or transport failure: retry later
	// Unauthenticated: no credential, or one that names nobody; Permission
	// is for a caller known but not allowed.
	Unauthenticated
	// Unavailable: the service cannot take the request now (overloaded,
	// closing, or not the store's writer); nothing was done: retry later.
	Unavailable
	// Throttled: this caller asked too often (failed logins of one name,
	// say); nothing was done: retry after the error's wait (RetryAfter).
	Throttled
)

var kindNames = [...]string{
	Other:           "error",
	Invalid:         "invalid",
	NotFound:        "not found",
	Exists:          "already exists",
	Permission:      "permission denied",
	Crypto:          "crypto check failed",
	KeyMissing:      "key missing",
	Conflict:        "conflict",
	Insufficient:    "insufficient balance",
	IO:              "I/O error",
	Unauthenticated: "unauthenticated",
	Unavailable:     "unavailable",
	Throttled:       "too many requests",
}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", k)
}

// Error is the error type of the platform: the operation that failed, the
// kind of failure and the underlying error or message.
type Error struct {
	Op   string // the operation, "package.Function" or "package.Type.Method"
	Kind Kind
	Err  error
	// Wait is how long a Throttled caller waits before it asks again;
	// zero for other kinds.
	Wait time.Duration
}

// Later builds a Throttled *Error that asks the caller to wait wait
// before it asks again (RetryAfter reads it back).
func Later(op string, wait time.Duration, format string, args ...any) error {
	return &Error{Op: op, Kind: Throttled, Err: fmt.Errorf(format, args...), Wait: wait}
}

// RetryAfter returns the wait of the outermost *Error in err's chain that
// has one, or 0.
func RetryAfter(err error) time.Duration {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return 0
		}
		if e.Wait > 0 {
			return e.Wait
		}
		err = e.Err
	}
	return 0
}

// E builds an *Error. msg may contain format verbs for args; a trailing
// error argument wrapped with %w keeps its chain.
func E(op string, kind Kind, format string, args ...any) error {
	return &Error{Op: op, Kind: kind, Err: fmt.Errorf(format, args...)}
}

// Wrap wraps err under op, keeping err's kind when it has one and kind is
// Other.
func Wrap(op string, kind Kind, err error) error {
	if err == nil {
		return nil
	}
	if kind == Other {
		kind = KindOf(err)
	}
	return &Error{Op: op, Kind: kind, Err: err}
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.Err != nil {
		b.WriteString(e.Err.Error())
	} else {
		b.WriteString(e.Kind.String())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// KindOf returns the kind of the outermost *Error in err's chain that has a
// kind other than Other, or Other.
func KindOf(err error) Kind {
	for err != nil {
		var e *Error
		if !errors.As(err, &e) {
			return Other
		}
		if e.Kind != Other {
			return e.Kind
		}
		err = e.Err
	}
	return Other
}

// Transient reports whether err is a fault that may pass (kinds IO and
// Unavailable): the caller retries, and nothing may be answered as if it
// were a decision of the domain.
func Transient(err error) bool {
	k := KindOf(err)
	return k == IO || k == Unavailable
}

// IsKind reports whether err has kind k.
func IsKind(err error, k Kind) bool { return KindOf(err) == k }

// IssuerCode identifies a card issuer (a city's card company): 8 bytes, as
// in the JT/T 978 and CJ/T 166 basic data files. The first two bytes are
// the city code in BCD. It is the input of the first diversification level
// for interconnected cities' cards.
type IssuerCode [8]byte

// ParseIssuerCode parses 16 hex digits.
func ParseIssuerCode(s string) (IssuerCode, error) {
	var c IssuerCode
	err := parseHexFixed("citycard.ParseIssuerCode", "issuer code", s, c[:])
	return c, err
}

func (c IssuerCode) String() string { return strings.ToUpper(hex.EncodeToString(c[:])) }

// ASN is a card application serial number. It is stored as 10 bytes; an
// 8-byte CJ/T 166 ASN is right-aligned with two leading zero bytes, so the
// rightmost 8 bytes, the diversification input, are the same either way.
type ASN [10]byte

// ParseASN parses 16 or 20 hex digits.
func ParseASN(s string) (ASN, error) {
	var a ASN
	const op = "citycard.ParseASN"
	switch len(s) {
	case 16:
		err := parseHexFixed(op, "ASN", s, a[2:])
		return a, err
	case 20:
		err := parseHexFixed(op, "ASN", s, a[:])
		return a, err
	}
	return a, E(op, Invalid, "ASN %q: want 16 or 20 hex digits, have %d", s, len(s))
}

// Short reports whether a is an 8-byte ASN (its first two bytes are zero).
func (a ASN) Short() bool { return a[0] == 0 && a[1] == 0 }

// Div returns the diversification input: the rightmost 8 bytes.
func (a ASN) Div() []byte { return a[2:] }

func (a ASN) String() string {
	if a.Short() {
		return strings.ToUpper(hex.EncodeToString(a[2:]))
	}
	return strings.ToUpper(hex.EncodeToString(a[:]))
}

// TerminalID is the 6-byte terminal number that the card sees in MAC1, MAC2
// and TAC (the PSAM's terminal number, PBOC file 0016).
type TerminalID [6]byte

// ParseTerminalID parses 12 hex digits.
func ParseTerminalID(s string) (TerminalID, error) {
	var t TerminalID
	err := parseHexFixed("citycard.ParseTerminalID", "terminal ID", s, t[:])
	return t, err
}

func (t TerminalID) String() string { return strings.ToUpper(hex.EncodeToString(t[:])) }

// PSAMID is the PSAM's 10-byte serial number; its rightmost 8 bytes
// diversify the PSAM's record MAC key.
type PSAMID [10]byte

// ParsePSAMID parses 20 hex digits.
func ParsePSAMID(s string) (PSAMID, error) {
	var p PSAMID
	err := parseHexFixed("citycard.ParsePSAMID", "PSAM ID", s, p[:])
	return p, err
}

// Div returns the diversification input: the rightmost 8 bytes.
func (p PSAMID) Div() []byte { return p[2:] }

func (p PSAMID) String() string { return strings.ToUpper(hex.EncodeToString(p[:])) }

func parseHexFixed(op, what, s string, dst []byte) error {
	if len(s) != 2*len(dst) {
		return E(op, Invalid, "%s %q: want %d hex digits, have %d", what, s, 2*len(dst), len(s))
	}
	if _, err := hex.Decode(dst, []byte(s)); err != nil {
		return E(op, Invalid, "%s %q: %v", what, s, err)
	}
	return nil
}

// ChinaTime is China Standard Time (UTC+8, no daylight saving): the zone
// card dates and times, cut-offs and service days are written in.
var ChinaTime = time.FixedZone("CST", 8*3600)

// Yuan formats an amount in fen as yuan with two decimals and thousands
// separators, for people: 123456789 is "1,234,567.89", -5 is "-0.05".
// Inside the platform money stays integer fen.
func Yuan(fen int64) string {
	neg := fen < 0
	u := uint64(fen)
	if neg {
		u = -u
	}
	digits := strconv.FormatUint(u/100, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	for i, c := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	fmt.Fprintf(&b, ".%02d", u%100)
	return b.String()
}
