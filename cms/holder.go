package cms

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/citycard/citycard"
)

// DocType is the kind of identity document a cardholder shows.
type DocType uint8

// The document types. The values are stored: keep them.
const (
	ResidentID           DocType = 1 // 居民身份证, GB 11643's 18-character number
	Passport             DocType = 2
	HKMacauPermit        DocType = 3 // 港澳居民来往内地通行证
	TaiwanPermit         DocType = 4 // 台湾居民来往大陆通行证
	ForeignPermanentCard DocType = 5 // 外国人永久居留身份证
)

var docTypeNames = [...]string{
	ResidentID:           "resident_id",
	Passport:             "passport",
	HKMacauPermit:        "hk_macau_permit",
	TaiwanPermit:         "taiwan_permit",
	ForeignPermanentCard: "foreign_permanent_card",
}

// String gives the name ParseDocType reads.
func (t DocType) String() string {
	if t.valid() {
		return docTypeNames[t]
	}
	return fmt.Sprintf("doc_type(%d)", uint8(t))
}

func (t DocType) valid() bool { return t >= ResidentID && int(t) < len(docTypeNames) }

// ParseDocType parses a document type's name. Kind Invalid.
func ParseDocType(s string) (DocType, error) {
	for i, n := range docTypeNames {
		if n != "" && n == s {
			return DocType(i), nil
		}
	}
	return 0, citycard.E("cms.ParseDocType", citycard.Invalid, "document type %q: want one of %s", s, strings.Join(nonEmpty(docTypeNames[:]), ", "))
}

// Limits on a cardholder's fields.
const (
	NameRunesMax      = 64
	docNumberBytesMin = 5
	docNumberBytesMax = 20
	SchoolRunesMax    = 64
)

// PersonName, DocNumber and Phone are personal data. Their Format,
// LogValue and MarshalText give the masked form (MaskName, MaskDocNumber,
// MaskPhone) whatever the verb, so that no %v of a struct, no slog
// attribute and no JSON answer shows them by mistake; Plain gives the
// value itself, for encryption and for the holder's own eyes.
type (
	PersonName string
	DocNumber  string
	Phone      string
)

// Plain returns the name itself.
func (n PersonName) Plain() string { return string(n) }

// Plain returns the number itself.
func (d DocNumber) Plain() string { return string(d) }

// Plain returns the number itself.
func (p Phone) Plain() string { return string(p) }

func (n PersonName) String() string { return MaskName(string(n)) }
func (d DocNumber) String() string  { return MaskDocNumber(string(d)) }
func (p Phone) String() string      { return MaskPhone(string(p)) }

// Format writes the masked name for every verb.
func (n PersonName) Format(f fmt.State, _ rune) { fmt.Fprint(f, n.String()) }

// Format writes the masked number for every verb.
func (d DocNumber) Format(f fmt.State, _ rune) { fmt.Fprint(f, d.String()) }

// Format writes the masked number for every verb.
func (p Phone) Format(f fmt.State, _ rune) { fmt.Fprint(f, p.String()) }

// LogValue is the masked name.
func (n PersonName) LogValue() slog.Value { return slog.StringValue(n.String()) }

// LogValue is the masked number.
func (d DocNumber) LogValue() slog.Value { return slog.StringValue(d.String()) }

// LogValue is the masked number.
func (p Phone) LogValue() slog.Value { return slog.StringValue(p.String()) }

// MarshalText gives the masked name.
func (n PersonName) MarshalText() ([]byte, error) { return []byte(n.String()), nil }

// MarshalText gives the masked number.
func (d DocNumber) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// MarshalText gives the masked number.
func (p Phone) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// MaskDocNumber shows the first and last quarter of a document number, at
// most 4 characters each, and a '*' for every other one: an 18-character
// resident ID number 330203199001011236 shows as 3302**********1236.
func MaskDocNumber(s string) string {
	keep := min(4, len(s)/4)
	return maskMiddle(s, keep, keep)
}

// MaskPhone shows a mobile number's first 3 and last 4 digits,
// 138****5678; another length shows its last 4 at most, a quarter of it.
func MaskPhone(s string) string {
	if len(s) == 11 {
		return maskMiddle(s, 3, 4)
	}
	return maskMiddle(s, 0, min(4, len(s)/4))
}

// MaskName shows a name's first character and a '*' for each other one:
// 张三丰 shows as 张**; a one-character name as *.
func MaskName(s string) string {
	n := utf8.RuneCountInString(s)
	if n <= 1 {
		return strings.Repeat("*", n)
	}
	r, _ := utf8.DecodeRuneInString(s)
	return string(r) + strings.Repeat("*", n-1)
}

// maskMiddle keeps head bytes and tail bytes of an ASCII s (document and
// phone numbers are ASCII once checked; anything else is masked whole).
func maskMiddle(s string, head, tail int) string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Repeat("*", utf8.RuneCountInString(s))
		}
	}
	if head+tail >= len(s) {
		return strings.Repeat("*", len(s))
	}
	return s[:head] + strings.Repeat("*", len(s)-head-tail) + s[len(s)-tail:]
}

// residentIDWeights are GB 11643-1999's weights of the first 17
// characters, 2^(17-i) mod 11; residentIDCheck maps the weighted sum mod
// 11 to the check character.
var (
	residentIDWeights = [17]int{7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2}
	residentIDCheck   = "10X98765432"
)

// NormalizeDocNumber returns s as it is checked and looked up: spaces
// around it trimmed, letters in upper case (a resident ID's check
// character x is X).
func NormalizeDocNumber(s string) DocNumber { return DocNumber(strings.ToUpper(strings.TrimSpace(s))) }

// CheckDocNumber checks a normalized document number of type t: a
// resident ID number is 17 digits and a check character (GB 11643-1999:
// ISO 7064 MOD 11-2 over the weights above), its characters 7 to 14 a
// date of birth that exists; other documents are 5 to 20 letters and
// digits. Kind Invalid; the message never holds the number.
func CheckDocNumber(t DocType, d DocNumber) error {
	const op = "cms.CheckDocNumber"
	s := string(d)
	if t != ResidentID {
		if !t.valid() {
			return citycard.E(op, citycard.Invalid, "document type %d", t)
		}
		if len(s) < docNumberBytesMin || len(s) > docNumberBytesMax {
			return citycard.E(op, citycard.Invalid, "%v number: %d characters, want %d to %d", t, len(s), docNumberBytesMin, docNumberBytesMax)
		}
		for i := 0; i < len(s); i++ {
			if c := s[i]; !('A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				return citycard.E(op, citycard.Invalid, "%v number: character %d is not a letter or digit", t, i+1)
			}
		}
		return nil
	}
	if len(s) != 18 {
		return citycard.E(op, citycard.Invalid, "resident ID number: %d characters, want 18", len(s))
	}
	sum := 0
	for i := 0; i < 17; i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return citycard.E(op, citycard.Invalid, "resident ID number: character %d is not a digit", i+1)
		}
		sum += int(c-'0') * residentIDWeights[i]
	}
	if _, err := residentIDBirth(d); err != nil {
		return citycard.E(op, citycard.Invalid, "resident ID number: characters 7 to 14 are not a date of birth")
	}
	if s[17] != residentIDCheck[sum%11] {
		return citycard.E(op, citycard.Invalid, "resident ID number: the check character is wrong")
	}
	return nil
}

// residentIDBirth returns the date of birth a resident ID number holds.
func residentIDBirth(d DocNumber) (Date, error) {
	s := string(d)
	return ParseDate(s[6:10] + "-" + s[10:12] + "-" + s[12:14])
}

// Cardholder is a registered card's holder. Every field but ID is personal
// data: stores keep it encrypted (Protector), and String and LogValue show
// only masked forms.
type Cardholder struct {
	ID          int64 // the store's; 0 before it is stored
	Name        PersonName
	DocType     DocType
	DocNumber   DocNumber // normalized (NormalizeDocNumber)
	DateOfBirth Date
	Phone       Phone  // a mobile number; empty if none given
	School      string // a student's; empty otherwise
	StudiesEnd  Date   // a student's last day of studies
}

// Validate checks every field: a name of 1 to NameRunesMax printable
// characters, a document number that passes CheckDocNumber (normalized
// already), a date of birth (a resident ID's must be the one its number
// holds), a mobile number of 11 digits starting with 1 if any, a school of
// at most SchoolRunesMax characters with a last day of studies, or
// neither. Kind Invalid; no message holds the personal data.
func (h *Cardholder) Validate() error {
	const op = "cms.Cardholder.Validate"
	if n := utf8.RuneCountInString(string(h.Name)); n == 0 || n > NameRunesMax || !printable(string(h.Name)) {
		return citycard.E(op, citycard.Invalid, "name: want 1 to %d printable characters", NameRunesMax)
	}
	if NormalizeDocNumber(string(h.DocNumber)) != h.DocNumber {
		return citycard.E(op, citycard.Invalid, "document number: not normalized")
	}
	if err := CheckDocNumber(h.DocType, h.DocNumber); err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	if h.DateOfBirth.IsZero() {
		return citycard.E(op, citycard.Invalid, "date of birth: missing")
	}
	if h.DocType == ResidentID {
		if born, _ := residentIDBirth(h.DocNumber); born != h.DateOfBirth {
			return citycard.E(op, citycard.Invalid, "date of birth: not the one the resident ID number holds")
		}
	}
	if p := string(h.Phone); p != "" {
		ok := len(p) == 11 && p[0] == '1'
		for i := 0; ok && i < len(p); i++ {
			ok = '0' <= p[i] && p[i] <= '9'
		}
		if !ok {
			return citycard.E(op, citycard.Invalid, "phone: want a mobile number of 11 digits starting with 1")
		}
	}
	if (h.School == "") != h.StudiesEnd.IsZero() {
		return citycard.E(op, citycard.Invalid, "school and end of studies: give both or neither")
	}
	if utf8.RuneCountInString(h.School) > SchoolRunesMax || !printable(h.School) {
		return citycard.E(op, citycard.Invalid, "school: want at most %d printable characters", SchoolRunesMax)
	}
	return nil
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// Facts returns what eligibility is checked against.
func (h *Cardholder) Facts() Facts {
	return Facts{DateOfBirth: h.DateOfBirth, School: h.School, StudiesEnd: h.StudiesEnd}
}

// String shows the holder's ID and masked document: "cardholder 42
// (resident_id 3302**********1236)".
func (h Cardholder) String() string {
	return fmt.Sprintf("cardholder %d (%v %v)", h.ID, h.DocType, h.DocNumber)
}

// Format writes String for every verb, so that %+v and %#v mask too.
func (h Cardholder) Format(f fmt.State, _ rune) { fmt.Fprint(f, h.String()) }

// MarshalJSON gives the ID and the masked fields, as LogValue: the form
// the API and the console show.
func (h Cardholder) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		ID        int64  `json:"id"`
		Name      string `json:"name"`
		DocType   string `json:"doc_type"`
		DocNumber string `json:"doc_number"`
		Phone     string `json:"phone,omitempty"`
	}{h.ID, h.Name.String(), h.DocType.String(), h.DocNumber.String(), h.Phone.String()})
}

// LogValue gives the ID and the masked fields.
func (h Cardholder) LogValue() slog.Value {
	return slog.GroupValue(
		slog.Int64("id", h.ID),
		slog.String("name", h.Name.String()),
		slog.String("doc_type", h.DocType.String()),
		slog.String("doc_number", h.DocNumber.String()),
		slog.String("phone", h.Phone.String()),
	)
}
