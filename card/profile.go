package card

import (
	"fmt"
	"strings"

	"github.com/citycard/citycard"
)

// Profile is the kind of card: which standard its transit e-purse follows,
// and so its AID and the length of its ASN. The profile byte of the basic
// data file (SFI 15h) holds its value.
type Profile uint8

// The profiles. The values are the profile byte of the basic data file:
// keep them.
const (
	ProfileCitizen Profile = 1 // citizen card: bank application plus a CJ/T 166 e-purse
	ProfileMOHURD  Profile = 2 // MOHURD city-transit CPU card (CJ/T 166)
	ProfileMoT     Profile = 3 // Ministry of Transport card (JT/T 978)
)

// Valid reports whether p is one of the three profiles.
func (p Profile) Valid() bool { return p >= ProfileCitizen && p <= ProfileMoT }

// AID returns the AID of p's transit e-purse application (a fresh slice):
// A00000000386980701 for citizen and mohurd, A000000632010105 for mot. It
// returns nil for an invalid profile.
func (p Profile) AID() []byte {
	switch p {
	case ProfileCitizen, ProfileMOHURD:
		return []byte{0xA0, 0x00, 0x00, 0x00, 0x03, 0x86, 0x98, 0x07, 0x01}
	case ProfileMoT:
		return []byte{0xA0, 0x00, 0x00, 0x06, 0x32, 0x01, 0x01, 0x05}
	}
	return nil
}

// ASNLen returns the length in bytes of p's ASN: 8 for citizen and mohurd
// (CJ/T 166), 10 for mot (JT/T 978); 0 for an invalid profile.
func (p Profile) ASNLen() int {
	switch p {
	case ProfileCitizen, ProfileMOHURD:
		return 8
	case ProfileMoT:
		return 10
	}
	return 0
}

// String gives the name ParseProfile reads: "citizen", "mohurd" or "mot".
func (p Profile) String() string {
	switch p {
	case ProfileCitizen:
		return "citizen"
	case ProfileMOHURD:
		return "mohurd"
	case ProfileMoT:
		return "mot"
	}
	return fmt.Sprintf("profile(%d)", uint8(p))
}

// ParseProfile parses a profile name ("citizen", "mohurd", "mot", any
// case). Kind Invalid for any other name.
func ParseProfile(name string) (Profile, error) {
	switch strings.ToLower(name) {
	case "citizen":
		return ProfileCitizen, nil
	case "mohurd":
		return ProfileMOHURD, nil
	case "mot":
		return ProfileMoT, nil
	}
	return 0, citycard.E("card.ParseProfile", citycard.Invalid, "profile %q: want citizen, mohurd or mot", name)
}

// BankAID returns the AID of the citizen card's bank application (PBOC
// 3.0 debit, A000000333010101), a fresh slice. Only a citizen card holds
// it; it answers SELECT and refuses every e-purse command.
func BankAID() []byte {
	return []byte{0xA0, 0x00, 0x00, 0x03, 0x33, 0x01, 0x01, 0x01}
}
