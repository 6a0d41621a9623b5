package cms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/citycard/citycard"
)

// Resident ID numbers for the tests, their check characters computed by
// GB 11643-1999's rule; 11010519491231002X is the standard's own example.
const (
	idExample = "11010519491231002X"
	idNingbo  = "330203199001011236"
	idSenior  = "330205195612020048"
)

func TestCheckDocNumber(t *testing.T) {
	tests := []struct {
		name string
		t    DocType
		in   string
		ok   bool
	}{
		{"the standard's example", ResidentID, idExample, true},
		{"check x in lower case, normalized", ResidentID, " 11010519491231002x ", true},
		{"Ningbo", ResidentID, idNingbo, true},
		{"check character wrong", ResidentID, "330203199001011237", false},
		{"X where a digit is due", ResidentID, "33020319900101123X", false},
		{"17 characters", ResidentID, "33020319900101123", false},
		{"19 characters", ResidentID, "3302031990010112366", false},
		{"a letter inside", ResidentID, "3302031990A1011236", false},
		{"30 February", ResidentID, "330203199002301233", false},
		{"passport", Passport, "E12345678", true},
		{"passport of 4", Passport, "E123", false},
		{"passport of 20", Passport, "E1234567890123456789", true},
		{"passport of 21", Passport, "E12345678901234567890", false},
		{"passport with a dash", Passport, "E1234-678", false},
		{"unknown type", DocType(9), "E12345678", false},
	}
	for _, tt := range tests {
		n := NormalizeDocNumber(tt.in)
		err := CheckDocNumber(tt.t, n)
		if (err == nil) != tt.ok || err != nil && !citycard.IsKind(err, citycard.Invalid) {
			t.Errorf("%s: %v", tt.name, err)
		}
		if err != nil && strings.Contains(err.Error(), string(n)) {
			t.Errorf("%s: the error %q holds the number", tt.name, err)
		}
	}
	// Every wrong check character of the example is refused.
	for _, c := range "0123456789" {
		if err := CheckDocNumber(ResidentID, DocNumber(idExample[:17]+string(c))); err == nil {
			t.Errorf("check character %c taken", c)
		}
	}
}

func TestMasks(t *testing.T) {
	tests := []struct{ got, want string }{
		{MaskDocNumber("330203199001011234"), "3302**********1234"}, // the form
		{MaskDocNumber("E12345678"), "E1*****78"},
		{MaskDocNumber("ABC"), "***"},
		{MaskPhone("13812345678"), "138****5678"},
		{MaskPhone("057487654321"), "*********321"},
		{MaskPhone("123"), "***"},
		{MaskName("张三丰"), "张**"},
		{MaskName("李"), "*"},
		{MaskName(""), ""},
		{MaskName("Wang Fang"), "W********"},
		{MaskDocNumber("号码号码号码号码"), "********"},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%d: %q, want %q", i, tt.got, tt.want)
		}
	}
}

func holder() Cardholder {
	return Cardholder{ID: 42, Name: "张三丰", DocType: ResidentID, DocNumber: idNingbo,
		DateOfBirth: Date{1990, 1, 1}, Phone: "13812345678"}
}

func TestCardholderValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(h *Cardholder)
		ok   bool
	}{
		{"good", func(h *Cardholder) {}, true},
		{"no phone", func(h *Cardholder) { h.Phone = "" }, true},
		{"student", func(h *Cardholder) { h.School = "宁波大学"; h.StudiesEnd = Date{2030, 6, 30} }, true},
		{"no name", func(h *Cardholder) { h.Name = "" }, false},
		{"64 characters", func(h *Cardholder) { h.Name = PersonName(strings.Repeat("王", NameRunesMax)) }, true},
		{"65 characters", func(h *Cardholder) { h.Name = PersonName(strings.Repeat("王", NameRunesMax+1)) }, false},
		{"a control character", func(h *Cardholder) { h.Name = "张\n三" }, false},
		{"birth date not the number's", func(h *Cardholder) { h.DateOfBirth = Date{1990, 1, 2} }, false},
		{"no birth date", func(h *Cardholder) { h.DateOfBirth = Date{} }, false},
		{"number not normalized", func(h *Cardholder) { h.DocNumber = "11010519491231002x"; h.DateOfBirth = Date{1949, 12, 31} }, false},
		{"bad number", func(h *Cardholder) { h.DocNumber = "330203199001011237" }, false},
		{"phone of 10", func(h *Cardholder) { h.Phone = "1381234567" }, false},
		{"phone not mobile", func(h *Cardholder) { h.Phone = "05748765432" }, false},
		{"school without end", func(h *Cardholder) { h.School = "x" }, false},
		{"passport, any birth date", func(h *Cardholder) { h.DocType = Passport; h.DocNumber = "E12345678" }, true},
	}
	for _, tt := range tests {
		h := holder()
		tt.edit(&h)
		err := h.Validate()
		if (err == nil) != tt.ok {
			t.Errorf("%s: %v", tt.name, err)
		}
		if err != nil && (strings.Contains(err.Error(), idNingbo) || strings.Contains(err.Error(), "13812345678") || strings.Contains(err.Error(), "三丰")) {
			t.Errorf("%s: %q holds personal data", tt.name, err)
		}
	}
}

func newProtector(t *testing.T, fill byte) *Protector {
	t.Helper()
	p, err := NewProtector(bytes.Repeat([]byte{fill}, DataKeyLen), nil)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProtect(t *testing.T) {
	p := newProtector(t, 1)
	h := holder()
	h.School, h.StudiesEnd = "宁波大学", Date{2030, 6, 30}
	pr, err := p.Protect(&h)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{idNingbo, "13812345678", "张三丰", "宁波大学"} {
		if bytes.Contains(pr.Ciphertext, []byte(s)) {
			t.Fatalf("the ciphertext holds %q", s)
		}
	}
	got, err := p.Reveal(pr)
	if err != nil || got != h {
		t.Fatalf("Reveal: %v, %v", got, err)
	}
	if pr.Lookup != p.LookupHash(ResidentID, idNingbo) || pr.Lookup == newProtector(t, 2).LookupHash(ResidentID, idNingbo) || pr.Lookup == p.LookupHash(Passport, idNingbo) {
		t.Error("the look-up hash is not keyed by the data key and the document type")
	}
	// Two encryptions of one holder differ (fresh nonces).
	pr2, _ := p.Protect(&h)
	if bytes.Equal(pr.Ciphertext, pr2.Ciphertext) {
		t.Error("the same ciphertext twice")
	}
	bad := []struct {
		name string
		edit func(pr *Protected)
		p    *Protector
	}{
		{"a byte flipped", func(pr *Protected) { pr.Ciphertext[len(pr.Ciphertext)-1] ^= 1 }, p},
		{"another holder's row", func(pr *Protected) { pr.HolderID = 43 }, p},
		{"another data key", func(pr *Protected) {}, newProtector(t, 2)},
		{"another look-up hash", func(pr *Protected) { pr.Lookup[0] ^= 1 }, p},
		{"truncated", func(pr *Protected) { pr.Ciphertext = pr.Ciphertext[:20] }, p},
		{"another version", func(pr *Protected) { pr.Ciphertext[0] = 2 }, p},
	}
	for _, tt := range bad {
		c := pr
		c.Ciphertext = bytes.Clone(pr.Ciphertext)
		tt.edit(&c)
		if _, err := tt.p.Reveal(c); !citycard.IsKind(err, citycard.Crypto) {
			t.Errorf("%s: %v, want a Crypto error", tt.name, err)
		}
	}
	if _, err := p.Protect(&Cardholder{Name: "x"}); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("no ID: %v", err)
	}
	if _, err := NewProtector(make([]byte, 16), nil); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("a 16-byte key: %v", err)
	}
}

// TestNoPIIInLogs logs cardholders, their fields, the Protector and the
// errors of bad input every way the code might (slog text and JSON, fmt
// verbs, JSON answers), then scans everything written for the ID numbers,
// phone and names it used: none may appear.
func TestNoPIIInLogs(t *testing.T) {
	key := bytes.Repeat([]byte{7}, DataKeyLen)
	p, err := NewProtector(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := holder()
	b := Cardholder{ID: 43, Name: "李四", DocType: ResidentID, DocNumber: idSenior, DateOfBirth: Date{1956, 12, 2}, Phone: "13987654321"}
	var out bytes.Buffer
	// Without the time: a clock reading such as 08:21:56.195 holds "1956".
	noTime := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}
	loggers := []*slog.Logger{slog.New(slog.NewTextHandler(&out, noTime)), slog.New(slog.NewJSONHandler(&out, noTime))}
	for _, log := range loggers {
		for _, h := range []Cardholder{a, b} {
			log.Info("holder", "holder", h, "ptr", &h, "name", h.Name, "doc", h.DocNumber, "phone", h.Phone, "protector", p)
			pr, err := p.Protect(&h)
			log.Info("protected", "err", err, "lookup", fmt.Sprintf("%x", pr.Lookup))
			bad := h
			bad.DateOfBirth = Date{2000, 1, 1}
			log.Error("refused", "err", bad.Validate())
			log.Error("refused", "err", CheckDocNumber(ResidentID, h.DocNumber[:17]+"0"))
		}
	}
	for _, h := range []Cardholder{a, b} {
		fmt.Fprintf(&out, "%v %+v %#v %s %q %x %d\n", h, h, h, h, h, h, h)
		fmt.Fprintf(&out, "%v %+v %#v %s %q %x\n", h.DocNumber, h.Phone, h.Name, h.DocNumber, h.Phone, h.DocNumber)
		fmt.Fprintf(&out, "%v %+v %#v\n", &h, []Cardholder{h}, map[string]Cardholder{"h": h})
		j, err := json.Marshal(struct {
			H Cardholder
			N DocNumber
		}{h, h.DocNumber})
		if err != nil {
			t.Fatal(err)
		}
		out.Write(j)
	}
	fmt.Fprintf(&out, "%v %+v %#v %v\n", p, p, *p, []any{p, *p})
	j, _ := json.Marshal(p)
	out.Write(j)
	text := out.String()
	for _, secret := range []string{idNingbo, idSenior, idNingbo[6:14], "13812345678", "13987654321", "张三丰", "三丰", "李四", "1956", "1990",
		fmt.Sprintf("%x", key), string(key), fmt.Sprintf("%x", p.lookup), fmt.Sprintf("%#v", p.lookup)} {
		if strings.Contains(text, secret) {
			t.Errorf("the log output holds %q", secret)
		}
	}
	if !strings.Contains(text, "3302**********1236") || !strings.Contains(text, "138****5678") {
		t.Errorf("the masked forms are missing from the output:\n%s", text)
	}
}
