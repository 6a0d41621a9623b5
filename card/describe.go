package card

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/keys"
)

// Describe returns a one-line reading of a command APDU and the card's
// response, for the trace tool:
//
//	INITIALIZE FOR PURCHASE key v1 amount 200 fen terminal 000000000001 -> balance 5000 fen, offline counter 3, overdraw 0 fen, key v1, alg 3DES, random 1A2B3C4D
//
// It needs no card: it decodes the bytes alone. A nil resp reads "no
// response" (a torn exchange); a refusal reads as its status word; what
// it cannot decode it shows in hex. It never fails.
func Describe(cmd []byte, resp []byte) string {
	c, o, ok := describeCommand(cmd)
	return c + " -> " + describeResponse(o, ok, cmd, resp)
}

// describeCommand reads a command; ok is false when the APDU does not
// parse, and o is opNone for a command the card does not know.
func describeCommand(raw []byte) (s string, o op, ok bool) {
	if len(raw) < 4 {
		return fmt.Sprintf("malformed APDU [%s]", apdu.Hex(raw)), opNone, false
	}
	o, status := lookup(raw[0], raw[1])
	if status != apdu.SWOK {
		return fmt.Sprintf("unknown command %02X %02X %02X %02X", raw[0], raw[1], raw[2], raw[3]), opNone, false
	}
	cmd, err := apdu.ParseCommand(raw)
	if err != nil {
		return fmt.Sprintf("%v with bad lengths [%s]", o, apdu.Hex(raw)), o, false
	}
	d := cmd.Data
	switch o {
	case opSelect:
		return fmt.Sprintf("SELECT %X%s", d, aidName(d)), o, true
	case opReadBinary:
		n := "to the end"
		if cmd.Le != -1 && cmd.Le != 256 {
			n = fmt.Sprintf("%d bytes", cmd.Le)
		}
		return fmt.Sprintf("READ BINARY SFI %02Xh offset %d, %s", cmd.P1&0x1F, cmd.P2, n), o, true
	case opReadRecord:
		sfi := cmd.P2 >> 3
		switch {
		case sfi == SFILog && cmd.P2&7 == 4:
			return fmt.Sprintf("READ RECORD log record %d", cmd.P1), o, true
		case sfi == SFITransit && cmd.P2&7 == 0:
			return fmt.Sprintf("READ RECORD transit record %02X (%s)", cmd.P1, recordName(cmd.P1)), o, true
		}
		return fmt.Sprintf("READ RECORD SFI %02Xh P1 %02X P2 %02X", sfi, cmd.P1, cmd.P2), o, true
	case opGetChallenge:
		return "GET CHALLENGE", o, true
	case opGetBalance:
		return "GET BALANCE", o, true
	case opInitialize:
		name := map[byte]string{0x00: "INITIALIZE FOR LOAD", 0x01: "INITIALIZE FOR PURCHASE", 0x03: "INITIALIZE FOR CAPP PURCHASE"}[cmd.P1]
		if name == "" {
			name = fmt.Sprintf("INITIALIZE P1 %02X", cmd.P1)
		}
		if len(d) != 11 {
			return fmt.Sprintf("%s [%s]", name, apdu.Hex(d)), o, true
		}
		return fmt.Sprintf("%s key v%d amount %d fen terminal %X", name, d[0], binary.BigEndian.Uint32(d[1:5]), d[5:11]), o, true
	case opUpdateCAPP:
		if r, err := ParseTransitRecord(d); err == nil {
			return fmt.Sprintf("UPDATE CAPP DATA CACHE %s", describeTransit(r)), o, true
		}
		return fmt.Sprintf("UPDATE CAPP DATA CACHE record %02X [%s]", cmd.P1, apdu.Hex(d)), o, true
	case opDebit:
		if len(d) != 15 {
			return fmt.Sprintf("DEBIT FOR PURCHASE [%s]", apdu.Hex(d)), o, true
		}
		return fmt.Sprintf("DEBIT FOR PURCHASE terminal sequence %d, %X %X, MAC1 %X", binary.BigEndian.Uint32(d[0:4]), d[4:8], d[8:11], d[11:15]), o, true
	case opCredit:
		if len(d) != 11 {
			return fmt.Sprintf("CREDIT FOR LOAD [%s]", apdu.Hex(d)), o, true
		}
		return fmt.Sprintf("CREDIT FOR LOAD %X %X, MAC2 %X", d[0:4], d[4:7], d[7:11]), o, true
	case opGetProof:
		if len(d) != 2 {
			return fmt.Sprintf("GET TRANSACTION PROOF type %02X [%s]", cmd.P2, apdu.Hex(d)), o, true
		}
		return fmt.Sprintf("GET TRANSACTION PROOF %s counter %d", txName(cmd.P2), binary.BigEndian.Uint16(d)), o, true
	case opBlock, opUnblock:
		return fmt.Sprintf("%v MAC %X", o, d), o, true
	case opStamp:
		if len(d) != StampWriteLen {
			return fmt.Sprintf("STAMP slot %d [%s]", cmd.P1, apdu.Hex(d)), o, true
		}
		return fmt.Sprintf("STAMP slot %d action %d terminal %X sequence %d, %X %X, uses %d inside %d sites %X, write MAC %X",
			cmd.P1, d[0], d[1:7], binary.BigEndian.Uint32(d[7:11]), d[11:15], d[15:18], binary.BigEndian.Uint16(d[18:20]), d[20], d[21:29], d[29:33]), o, true
	}
	return o.String(), o, true
}

// describeResponse reads the response to a command of op o.
func describeResponse(o op, parsed bool, raw, resp []byte) string {
	if resp == nil {
		return "no response (the card lost power)"
	}
	r, err := apdu.ParseResponse(resp)
	if err != nil {
		return fmt.Sprintf("malformed response [%s]", apdu.Hex(resp))
	}
	blocked := o == opSelect && r.SW == apdu.SWWarnFileInvalidated
	if r.SW != apdu.SWOK && !blocked {
		if len(r.Data) > 0 {
			return fmt.Sprintf("%v [%s]", r.SW, apdu.Hex(r.Data))
		}
		return r.SW.String()
	}
	s := describeData(o, parsed, raw, r.Data)
	if blocked {
		s += ", " + r.SW.String()
	}
	return s
}

// describeData reads the data of a successful response.
func describeData(o op, parsed bool, raw, d []byte) string {
	if !parsed {
		return dataHex(d)
	}
	cmd, _ := apdu.ParseCommand(raw)
	switch o {
	case opSelect:
		return "FCI " + dataHex(d)
	case opReadBinary:
		if cmd.P1&0x1F == SFIBasicData && cmd.P2 == 0 {
			if bd, err := ParseBasicData(d); err == nil {
				return fmt.Sprintf("issuer %v, ASN %v, %v card, card type %02X, rider category %02X, valid %v to %v",
					bd.Issuer, bd.ASN, bd.Profile, bd.CardType, bd.RiderCategory, bd.Start, bd.Expiry)
			}
		}
		if cmd.P1&0x1F == SFIEntitlements && cmd.P2 == 0 {
			if f, err := ParseEntitlements(d); err == nil {
				s := fmt.Sprintf("entitlements v%d, key v%d, counter %d, grant MAC %X", f.Version, f.KeyVersion, f.Counter, f.GrantMAC)
				for _, e := range f.Slots {
					s += fmt.Sprintf("; %v %d valid %v to %v, uses %d of %d", e.App, e.Scope, e.ValidFrom, e.ValidTo, e.Uses, e.Limit)
				}
				return s
			}
		}
	case opReadRecord:
		if cmd.P2>>3 == SFILog {
			if e, err := ParseLogEntry(d); err == nil {
				return fmt.Sprintf("%s %d fen, counter %d, terminal %v, %v %v", txName(e.Type), e.AmountFen, e.Counter, e.Terminal, e.Date, e.Time)
			}
		} else if r, err := ParseTransitRecord(d); err == nil {
			return describeTransit(r)
		}
	case opGetChallenge:
		return "random " + dataHex(d)
	case opGetBalance:
		if len(d) == 4 {
			return fmt.Sprintf("balance %d fen", int32(binary.BigEndian.Uint32(d)))
		}
	case opInitialize:
		switch {
		case cmd.P1 == 0x00 && len(d) == 16:
			return fmt.Sprintf("balance %d fen, online counter %d, key v%d, alg %v, random %X, MAC1 %X",
				int32(binary.BigEndian.Uint32(d[0:4])), binary.BigEndian.Uint16(d[4:6]), d[6], keys.Alg(d[7]), d[8:12], d[12:16])
		case cmd.P1 != 0x00 && len(d) == 15:
			return fmt.Sprintf("balance %d fen, offline counter %d, overdraw %d fen, key v%d, alg %v, random %X",
				int32(binary.BigEndian.Uint32(d[0:4])), binary.BigEndian.Uint16(d[4:6]), uint32(d[6])<<16|uint32(d[7])<<8|uint32(d[8]), d[9], keys.Alg(d[10]), d[11:15])
		}
	case opDebit:
		if len(d) == 8 {
			return fmt.Sprintf("TAC %X, MAC2 %X", d[0:4], d[4:8])
		}
	case opCredit:
		if len(d) == 4 {
			return fmt.Sprintf("TAC %X", d)
		}
	case opGetProof:
		if len(d) == 8 {
			return fmt.Sprintf("MAC2 %X, TAC %X", d[0:4], d[4:8])
		}
	case opUpdateCAPP, opBlock, opUnblock:
		if len(d) == 0 {
			return "done"
		}
	case opStamp:
		if len(d) == 4 {
			return fmt.Sprintf("stamp MAC %X", d)
		}
	}
	return dataHex(d)
}

// describeTransit reads a transit record.
func describeTransit(r TransitRecord) string {
	switch v := r.(type) {
	case JourneyRecord:
		s := fmt.Sprintf("journey, last leg %v: network %d line %d station %d, entry %v %v at terminal %v, provisional %d fen; journey from %v %v, legs %d, spent %d fen",
			v.Status, v.Network, v.Line, v.Station, v.EntryDate, v.EntryTime, v.Terminal, v.ProvisionalFen,
			v.JourneyDate, v.JourneyTime, v.JourneyLegs, v.JourneySpendFen)
		if v.HasPrev() {
			s += fmt.Sprintf("; previous leg network %d line %d station %d to %d, product %d, %v %v to %v %v, paid %d fen",
				v.PrevNetwork, v.PrevLine, v.PrevFromStation, v.PrevToStation, v.PrevProduct,
				v.PrevStartDate, v.PrevStartTime, v.PrevEndDate, v.PrevEndTime, v.PrevFen)
		}
		return s
	case Spend:
		return fmt.Sprintf("spend: day %v %d fen rides %d, month %v %d fen rides %d",
			v.Day, v.DaySpendFen, v.DayRides, v.Month, v.MonthSpendFen, v.MonthRides)
	case Product:
		return fmt.Sprintf("product %02X: product %d, %v, network %d, valid %v to %v, rides left %d, daily limit %d, rides %d on %v",
			v.Record, v.ProductID, v.Type, v.Network, v.ValidFrom, v.ValidTo, v.RidesLeft, v.DailyLimit, v.RidesToday, v.RidesTodayDate)
	}
	return fmt.Sprintf("record %02X", r.RecordID())
}

func aidName(aid []byte) string {
	switch {
	case bytes.Equal(aid, ProfileMOHURD.AID()):
		return " (CJ/T 166 e-purse: citizen, mohurd)"
	case bytes.Equal(aid, ProfileMoT.AID()):
		return " (JT/T 978 e-purse: mot)"
	case bytes.Equal(aid, BankAID()):
		return " (citizen card bank application)"
	}
	return ""
}

func recordName(id byte) string {
	switch {
	case id == RecordJourney:
		return "journey"
	case id == RecordSpend:
		return "spend"
	case id >= RecordProductFirst && id <= RecordProductLast:
		return "product"
	}
	return "unknown"
}

func txName(t byte) string {
	switch t {
	case citycard.TxLoad:
		return "load"
	case citycard.TxPurchase:
		return "purchase"
	case citycard.TxCompositePurchase:
		return "composite purchase"
	}
	return fmt.Sprintf("type %02X", t)
}

func dataHex(d []byte) string {
	if len(d) == 0 {
		return "done"
	}
	return strings.ReplaceAll(apdu.Hex(d), " ", "")
}
