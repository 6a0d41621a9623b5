package citycard

import (
	"errors"
	"testing"
)

func TestYuan(t *testing.T) {
	for fen, want := range map[int64]string{
		0: "0.00", 5: "0.05", -5: "-0.05", 200: "2.00", 123456789: "1,234,567.89", -100000: "-1,000.00", 99999: "999.99",
	} {
		if got := Yuan(fen); got != want {
			t.Errorf("Yuan(%d) = %q, want %q", fen, got, want)
		}
	}
}

func TestKindOf(t *testing.T) {
	base := E("a", NotFound, "no card")
	wrapped := Wrap("b", Other, base)
	if KindOf(wrapped) != NotFound || !IsKind(wrapped, NotFound) || KindOf(errors.New("x")) != Other {
		t.Fatalf("kinds: %v %v", KindOf(wrapped), KindOf(errors.New("x")))
	}
	if Wrap("b", Conflict, base).(*Error).Kind != Conflict || Wrap("b", Other, nil) != nil {
		t.Fatal("Wrap")
	}
	if got := wrapped.Error(); got != "b: a: no card" {
		t.Fatalf("message %q", got)
	}
}

func TestParseIDs(t *testing.T) {
	a, err := ParseASN("3150000012345678")
	if err != nil || !a.Short() || a.String() != "3150000012345678" || string(a.Div()) != "\x31\x50\x00\x00\x12\x34\x56\x78" {
		t.Fatalf("short ASN: %v %v", a, err)
	}
	l, err := ParseASN("31500001000012345678")
	if err != nil || l.Short() || l.String() != "31500001000012345678" {
		t.Fatalf("long ASN: %v %v", l, err)
	}
	for _, bad := range []string{"", "31500000123456", "3150000012345G78"} {
		if _, err := ParseASN(bad); !IsKind(err, Invalid) {
			t.Fatalf("ParseASN(%q): %v", bad, err)
		}
	}
	if _, err := ParseTerminalID("31500000200"); !IsKind(err, Invalid) {
		t.Fatal("short terminal ID accepted")
	}
}
