package card_test

import (
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
)

// TestStatusWords sends, for every status word of card/doc.go, commands
// that must earn it, and checks that none of them changes the balance,
// the counters or the log.
func TestStatusWords(t *testing.T) {
	// Each setup brings a fresh card (mohurd unless the case says, 1000
	// fen) to a state and returns the command to send there.
	type setup func(f *fixture) []byte
	sel := func(cmd []byte) setup {
		return func(f *fixture) []byte { f.selectEPurse(); return cmd }
	}
	none := func(cmd []byte) setup { return func(*fixture) []byte { return cmd } }
	debit := func(p *keys.Purchase, mac1 [4]byte) []byte { return cmdDebit(p.TerminalSeq, p.Date, p.Time, mac1) }
	// inPurchase opens a purchase (or composite purchase) of 100 fen and
	// hands its pending MAC1 data to mk.
	inPurchase := func(typ byte, mk func(p *keys.Purchase, mac1 [4]byte) []byte) setup {
		return func(f *fixture) []byte {
			f.selectEPurse()
			_, p := f.startPurchase(typ, 1, 100)
			return mk(p, f.purchaseProof(1, p).MAC1)
		}
	}
	// otherAmount opens a purchase of 100 fen and MACs it as 1 fen.
	otherAmount := func(f *fixture) []byte {
		f.selectEPurse()
		_, p := f.startPurchase(citycard.TxPurchase, 1, 100)
		q := *p
		q.Amount = 1
		return debit(p, f.purchaseProof(1, &q).MAC1)
	}
	inLoad := func(mk func(l *keys.Load, mac2 [4]byte) []byte) setup {
		return func(f *fixture) []byte {
			f.selectEPurse()
			in := parseInitLoad(f.t, f.must(cmdInit(0x00, 1, 100, testTerminal), apdu.SWOK))
			l := &keys.Load{Random: in.random, OnlineCounter: in.counter, BalanceBefore: uint32(in.balance),
				Amount: 100, Type: citycard.TxLoad, TerminalID: testTerminal, Date: testDate, Time: testTime}
			return mk(l, f.loadProof(1, l).MAC2)
		}
	}
	afterPurchase := func(mk func(counter uint16) []byte) setup {
		return func(f *fixture) []byte {
			f.selectEPurse()
			got := f.purchase(citycard.TxPurchase, 1, 10)
			return mk(got.init.counter)
		}
	}
	blocked := func(cmd []byte) setup {
		return func(f *fixture) []byte {
			f.selectEPurse()
			ch := f.challenge()
			mac, err := card.BlockMAC(f.keys[1].alg, f.keys[1].damk, ch, 0x84, 0x1E)
			if err != nil {
				f.t.Fatal(err)
			}
			f.must(cmdBlock(0x1E, mac), apdu.SWOK)
			return cmd
		}
	}
	validJourney := card.JourneyRecord{Status: card.LegOpen, EntryDate: testDate, EntryTime: testTime}
	tripBytes := func(t *testing.T) []byte { return mustMarshal(t, validJourney) }
	flip := func(m [4]byte) [4]byte { m[3] ^= 0x01; return m }
	readBasic := []byte{0x00, 0xB0, 0x95, 0x00, 0x20}

	tests := []struct {
		name    string
		profile card.Profile
		setup   func(t *testing.T) setup
		want    apdu.SW
	}{
		// 6700 wrong length.
		{"APDU of 3 bytes", 0, func(*testing.T) setup { return sel([]byte{0x80, 0x5C, 0x00}) }, apdu.SWWrongLength},
		{"Lc longer than the data", 0, func(*testing.T) setup { return sel([]byte{0x00, 0xA4, 0x04, 0x00, 0x09, 0xA0, 0x00}) }, apdu.SWWrongLength},
		{"Lc 0", 0, func(*testing.T) setup { return sel([]byte{0x80, 0x5C, 0x00, 0x02, 0x00, 0x04}) }, apdu.SWWrongLength},
		{"GET BALANCE Le 05", 0, func(*testing.T) setup { return sel([]byte{0x80, 0x5C, 0x00, 0x02, 0x05}) }, apdu.SWWrongLength},
		{"GET BALANCE with data", 0, func(*testing.T) setup { return sel([]byte{0x80, 0x5C, 0x00, 0x02, 0x01, 0x00, 0x04}) }, apdu.SWWrongLength},
		{"GET CHALLENGE Le 08", 0, func(*testing.T) setup { return sel([]byte{0x00, 0x84, 0x00, 0x00, 0x08}) }, apdu.SWWrongLength},
		{"INITIALIZE Lc 0A", 0, func(*testing.T) setup {
			c := cmdInit(0x01, 1, 10, testTerminal)
			return sel(append([]byte{0x80, 0x50, 0x01, 0x02, 0x0A}, c[5:15]...))
		}, apdu.SWWrongLength},
		{"INITIALIZE FOR PURCHASE Le 10", 0, func(*testing.T) setup {
			c := cmdInit(0x01, 1, 10, testTerminal)
			c[len(c)-1] = 0x10
			return sel(c)
		}, apdu.SWWrongLength},
		{"INITIALIZE FOR LOAD Le 0F", 0, func(*testing.T) setup {
			c := cmdInit(0x00, 1, 10, testTerminal)
			c[len(c)-1] = 0x0F
			return sel(c)
		}, apdu.SWWrongLength},
		{"DEBIT Le 04", 0, func(*testing.T) setup {
			return inPurchase(citycard.TxPurchase, func(p *keys.Purchase, m [4]byte) []byte { c := debit(p, m); c[len(c)-1] = 4; return c })
		}, apdu.SWWrongLength},
		{"DEBIT Lc 0E", 0, func(*testing.T) setup {
			return inPurchase(citycard.TxPurchase, func(p *keys.Purchase, m [4]byte) []byte {
				c := debit(p, m)
				return append([]byte{0x80, 0x54, 0x01, 0x00, 0x0E}, c[5:19]...)
			})
		}, apdu.SWWrongLength},
		{"CREDIT Le 08", 0, func(*testing.T) setup {
			return inLoad(func(l *keys.Load, m [4]byte) []byte { c := cmdCredit(l.Date, l.Time, m); c[len(c)-1] = 8; return c })
		}, apdu.SWWrongLength},
		{"READ RECORD log Le 16", 0, func(*testing.T) setup {
			return afterPurchase(func(uint16) []byte { return []byte{0x00, 0xB2, 0x01, 0xC4, 0x16} })
		}, apdu.SWWrongLength},
		{"READ BINARY past the end", 0, func(*testing.T) setup { return sel([]byte{0x00, 0xB0, 0x95, 0x10, 0x11}) }, apdu.SWWrongLength},
		{"UPDATE CAPP trip of 40 bytes", 0, func(t *testing.T) setup {
			return inPurchase(citycard.TxCompositePurchase, func(*keys.Purchase, [4]byte) []byte { return cmdUpdateCAPP(tripBytes(t)[:40]) })
		}, apdu.SWWrongLength},
		{"UPDATE CAPP spend of trip length", 0, func(t *testing.T) setup {
			return inPurchase(citycard.TxCompositePurchase, func(*keys.Purchase, [4]byte) []byte {
				c := cmdUpdateCAPP(tripBytes(t))
				c[2] = card.RecordSpend
				return c
			})
		}, apdu.SWWrongLength},
		{"GET PROOF Lc 3", 0, func(*testing.T) setup {
			return afterPurchase(func(n uint16) []byte { return []byte{0x80, 0x5A, 0x00, 0x06, 0x03, 0, byte(n), 0, 0x08} })
		}, apdu.SWWrongLength},

		// 6985 wrong order, or nothing selected, or the bank application.
		{"DEBIT before INITIALIZE", 0, func(*testing.T) setup {
			return sel(cmdDebit(1, testDate, testTime, [4]byte{}))
		}, apdu.SWConditionsNotMet},
		{"CREDIT before INITIALIZE", 0, func(*testing.T) setup {
			return sel(cmdCredit(testDate, testTime, [4]byte{}))
		}, apdu.SWConditionsNotMet},
		{"CREDIT after INITIALIZE FOR PURCHASE", 0, func(*testing.T) setup {
			return inPurchase(citycard.TxPurchase, func(*keys.Purchase, [4]byte) []byte { return cmdCredit(testDate, testTime, [4]byte{}) })
		}, apdu.SWConditionsNotMet},
		{"DEBIT after INITIALIZE FOR LOAD", 0, func(*testing.T) setup {
			return inLoad(func(*keys.Load, [4]byte) []byte { return cmdDebit(1, testDate, testTime, [4]byte{}) })
		}, apdu.SWConditionsNotMet},
		{"second DEBIT", 0, func(*testing.T) setup {
			return func(f *fixture) []byte {
				f.selectEPurse()
				got := f.purchase(citycard.TxPurchase, 1, 10)
				return cmdDebit(got.p.TerminalSeq, got.p.Date, got.p.Time, f.purchaseProof(1, &got.p).MAC1)
			}
		}, apdu.SWConditionsNotMet},
		{"UPDATE CAPP after INITIALIZE FOR PURCHASE", 0, func(t *testing.T) setup {
			return inPurchase(citycard.TxPurchase, func(*keys.Purchase, [4]byte) []byte { return cmdUpdateCAPP(tripBytes(t)) })
		}, apdu.SWConditionsNotMet},
		{"UPDATE CAPP outside a transaction", 0, func(t *testing.T) setup { return sel(cmdUpdateCAPP(tripBytes(t))) }, apdu.SWConditionsNotMet},
		{"GET BALANCE with nothing selected", 0, func(*testing.T) setup { return none(cmdGetBalance()) }, apdu.SWConditionsNotMet},
		{"INITIALIZE with nothing selected", 0, func(*testing.T) setup { return none(cmdInit(0x01, 1, 10, testTerminal)) }, apdu.SWConditionsNotMet},
		{"READ BINARY on the bank application", card.ProfileCitizen, func(*testing.T) setup {
			return func(f *fixture) []byte { f.must(cmdSelect(card.BankAID()), apdu.SWOK); return readBasic }
		}, apdu.SWConditionsNotMet},

		// 6A82 unknown application or file.
		{"SELECT unknown AID", 0, func(*testing.T) setup { return none(cmdSelect([]byte{0xA0, 0, 0, 0, 0x99})) }, apdu.SWFileNotFound},
		{"SELECT the bank AID on mohurd", 0, func(*testing.T) setup { return none(cmdSelect(card.BankAID())) }, apdu.SWFileNotFound},
		{"SELECT the mot AID on mohurd", 0, func(*testing.T) setup { return none(cmdSelect(card.ProfileMoT.AID())) }, apdu.SWFileNotFound},
		{"READ BINARY SFI 16h", 0, func(*testing.T) setup { return sel([]byte{0x00, 0xB0, 0x96, 0x00, 0x20}) }, apdu.SWFileNotFound},
		{"READ RECORD SFI 19h", 0, func(*testing.T) setup { return sel([]byte{0x00, 0xB2, 0x01, 0xCC, 0x00}) }, apdu.SWFileNotFound},
		{"UPDATE CAPP to SFI 18h", 0, func(t *testing.T) setup {
			return inPurchase(citycard.TxCompositePurchase, func(*keys.Purchase, [4]byte) []byte {
				c := cmdUpdateCAPP(tripBytes(t))
				c[3] = 0xC0
				return c
			})
		}, apdu.SWFileNotFound},

		// 6A83 no such record.
		{"READ RECORD log on a new card", 0, func(*testing.T) setup { return sel(cmdReadLog(1)) }, apdu.SWRecordNotFound},
		{"READ RECORD log 11", 0, func(*testing.T) setup { return sel(cmdReadLog(11)) }, apdu.SWRecordNotFound},
		{"READ RECORD transit 01 never written", 0, func(*testing.T) setup { return sel(cmdReadTransit(card.RecordJourney)) }, apdu.SWRecordNotFound},
		{"READ RECORD transit 05", 0, func(*testing.T) setup { return sel(cmdReadTransit(0x05)) }, apdu.SWRecordNotFound},
		{"UPDATE CAPP record 05", 0, func(t *testing.T) setup {
			return inPurchase(citycard.TxCompositePurchase, func(*keys.Purchase, [4]byte) []byte {
				c := cmdUpdateCAPP(tripBytes(t))
				c[2] = 0x05
				return c
			})
		}, apdu.SWRecordNotFound},

		// 6A86 bad P1 P2.
		{"SELECT P1 00", 0, func(*testing.T) setup {
			c := cmdSelect(card.ProfileMOHURD.AID())
			c[2] = 0x00
			return none(c)
		}, apdu.SWWrongP1P2},
		{"GET BALANCE P2 01", 0, func(*testing.T) setup { return sel([]byte{0x80, 0x5C, 0x00, 0x01, 0x04}) }, apdu.SWWrongP1P2},
		{"INITIALIZE P1 02", 0, func(*testing.T) setup {
			c := cmdInit(0x01, 1, 10, testTerminal)
			c[2] = 0x02
			return sel(c)
		}, apdu.SWWrongP1P2},
		{"INITIALIZE P2 01", 0, func(*testing.T) setup {
			c := cmdInit(0x01, 1, 10, testTerminal)
			c[3] = 0x01
			return sel(c)
		}, apdu.SWWrongP1P2},
		{"DEBIT P1 00", 0, func(*testing.T) setup {
			return inPurchase(citycard.TxPurchase, func(p *keys.Purchase, m [4]byte) []byte { c := debit(p, m); c[2] = 0; return c })
		}, apdu.SWWrongP1P2},
		{"READ BINARY without SFI", 0, func(*testing.T) setup { return sel([]byte{0x00, 0xB0, 0x15, 0x00, 0x20}) }, apdu.SWWrongP1P2},
		{"READ RECORD log by identifier", 0, func(*testing.T) setup { return sel([]byte{0x00, 0xB2, 0x01, 0xC0, 0x17}) }, apdu.SWWrongP1P2},
		{"READ RECORD log record 0", 0, func(*testing.T) setup { return sel([]byte{0x00, 0xB2, 0x00, 0xC4, 0x17}) }, apdu.SWWrongP1P2},
		{"GET PROOF type 07", 0, func(*testing.T) setup {
			return afterPurchase(func(n uint16) []byte { return cmdProof(0x07, n) })
		}, apdu.SWWrongP1P2},
		{"GET CHALLENGE P1 01", 0, func(*testing.T) setup { return sel([]byte{0x00, 0x84, 0x01, 0x00, 0x04}) }, apdu.SWWrongP1P2},
		{"APPLICATION BLOCK P2 01", 0, func(*testing.T) setup {
			return func(f *fixture) []byte {
				f.selectEPurse()
				f.challenge()
				return []byte{0x84, 0x1E, 0x00, 0x01, 0x04, 0, 0, 0, 0}
			}
		}, apdu.SWWrongP1P2},

		// 6D00 unknown INS.
		{"INS CA", 0, func(*testing.T) setup { return sel([]byte{0x80, 0xCA, 0x9F, 0x36, 0x00}) }, apdu.SWINSNotSupported},
		{"INS 00", 0, func(*testing.T) setup { return none([]byte{0x00, 0x00, 0x00, 0x00}) }, apdu.SWINSNotSupported},
		{"GET BALANCE on the bank application", card.ProfileCitizen, func(*testing.T) setup {
			return func(f *fixture) []byte { f.must(cmdSelect(card.BankAID()), apdu.SWOK); return cmdGetBalance() }
		}, apdu.SWINSNotSupported},

		// 6E00 unknown CLA.
		{"CLA 90", 0, func(*testing.T) setup { return sel([]byte{0x90, 0x5C, 0x00, 0x02, 0x04}) }, apdu.SWCLANotSupported},
		{"CLA FF", 0, func(*testing.T) setup { return sel([]byte{0xFF, 0xFF, 0xFF, 0xFF}) }, apdu.SWCLANotSupported},
		{"GET BALANCE under CLA 00", 0, func(*testing.T) setup { return sel([]byte{0x00, 0x5C, 0x00, 0x02, 0x04}) }, apdu.SWCLANotSupported},
		{"SELECT under CLA 80", 0, func(*testing.T) setup {
			c := cmdSelect(card.ProfileMOHURD.AID())
			c[0] = 0x80
			return none(c)
		}, apdu.SWCLANotSupported},

		// 9302 MAC wrong.
		{"DEBIT with a wrong MAC1", 0, func(*testing.T) setup {
			return inPurchase(citycard.TxPurchase, func(p *keys.Purchase, m [4]byte) []byte { return debit(p, flip(m)) })
		}, apdu.SWMACInvalid},
		{"composite DEBIT with a wrong MAC1", 0, func(*testing.T) setup {
			return inPurchase(citycard.TxCompositePurchase, func(p *keys.Purchase, m [4]byte) []byte { return debit(p, flip(m)) })
		}, apdu.SWMACInvalid},
		{"DEBIT whose MAC1 covers another amount", 0, func(*testing.T) setup { return otherAmount }, apdu.SWMACInvalid},
		{"CREDIT with a wrong MAC2", 0, func(*testing.T) setup {
			return inLoad(func(l *keys.Load, m [4]byte) []byte { return cmdCredit(l.Date, l.Time, flip(m)) })
		}, apdu.SWMACInvalid},
		{"CREDIT with another date than MAC2 covers", 0, func(*testing.T) setup {
			return inLoad(func(l *keys.Load, m [4]byte) []byte {
				return cmdCredit(citycard.BCDDate{0x20, 0x25, 0x06, 0x02}, l.Time, m)
			})
		}, apdu.SWMACInvalid},

		// 9401 insufficient balance.
		{"purchase over the balance", 0, func(*testing.T) setup { return sel(cmdInit(0x01, 1, 1001, testTerminal)) }, apdu.SWInsufficientFunds},
		{"composite purchase over the balance", 0, func(*testing.T) setup { return sel(cmdInit(0x03, 1, 0xFFFFFFFF, testTerminal)) }, apdu.SWInsufficientFunds},

		// 9403 unknown key version.
		{"purchase key v2", 0, func(*testing.T) setup { return sel(cmdInit(0x01, 2, 10, testTerminal)) }, apdu.SWKeyIndexUnsupported},
		{"load key v0", 0, func(*testing.T) setup { return sel(cmdInit(0x00, 0, 10, testTerminal)) }, apdu.SWKeyIndexUnsupported},

		// 9406 no proof for that transaction.
		{"GET PROOF on a new card", 0, func(*testing.T) setup { return sel(cmdProof(citycard.TxPurchase, 0)) }, apdu.SWMACNotAvailable},
		{"GET PROOF wrong counter", 0, func(*testing.T) setup {
			return afterPurchase(func(n uint16) []byte { return cmdProof(citycard.TxPurchase, n+1) })
		}, apdu.SWMACNotAvailable},
		{"GET PROOF wrong type", 0, func(*testing.T) setup {
			return afterPurchase(func(n uint16) []byte { return cmdProof(citycard.TxLoad, n) })
		}, apdu.SWMACNotAvailable},

		// 6A81 purchase or load on a blocked application.
		{"purchase when blocked", 0, func(*testing.T) setup { return blocked(cmdInit(0x01, 1, 10, testTerminal)) }, apdu.SWFuncNotSupported},
		{"composite purchase when blocked", 0, func(*testing.T) setup { return blocked(cmdInit(0x03, 1, 10, testTerminal)) }, apdu.SWFuncNotSupported},
		{"load when blocked", 0, func(*testing.T) setup { return blocked(cmdInit(0x00, 1, 10, testTerminal)) }, apdu.SWFuncNotSupported},

		// 6982 block MAC without a challenge or wrong.
		{"BLOCK without a challenge", 0, func(*testing.T) setup { return sel(cmdBlock(0x1E, [4]byte{})) }, apdu.SWSecurityStatus},
		{"BLOCK with a wrong MAC", 0, func(*testing.T) setup {
			return func(f *fixture) []byte { f.selectEPurse(); f.challenge(); return cmdBlock(0x1E, [4]byte{1, 2, 3, 4}) }
		}, apdu.SWSecurityStatus},
		{"BLOCK with a stale challenge", 0, func(*testing.T) setup {
			return func(f *fixture) []byte {
				f.selectEPurse()
				ch := f.challenge()
				f.must(cmdGetBalance(), apdu.SWOK)
				mac, _ := card.BlockMAC(f.keys[1].alg, f.keys[1].damk, ch, 0x84, 0x1E)
				return cmdBlock(0x1E, mac)
			}
		}, apdu.SWSecurityStatus},
		{"UNBLOCK without a challenge", 0, func(*testing.T) setup { return blocked(cmdBlock(0x18, [4]byte{})) }, apdu.SWSecurityStatus},

		// 6283 SELECT of a blocked application.
		{"SELECT when blocked", 0, func(*testing.T) setup { return blocked(cmdSelect(card.ProfileMOHURD.AID())) }, apdu.SWWarnFileInvalidated},

		// 6A80 wrong data.
		{"load over the maximum balance", 0, func(*testing.T) setup { return sel(cmdInit(0x00, 1, 99001, testTerminal)) }, apdu.SWWrongData},
		{"load of 0 fen", 0, func(*testing.T) setup { return sel(cmdInit(0x00, 1, 0, testTerminal)) }, apdu.SWWrongData},
		{"UPDATE CAPP identifier not P1", 0, func(*testing.T) setup {
			return inPurchase(citycard.TxCompositePurchase, func(*keys.Purchase, [4]byte) []byte {
				b := make([]byte, card.SpendLen)
				b[0] = card.RecordJourney
				return append([]byte{0x80, 0xDC, card.RecordSpend, 0xB8, byte(len(b))}, b...)
			})
		}, apdu.SWWrongData},
		{"UPDATE CAPP trip with a bad date", 0, func(t *testing.T) setup {
			return inPurchase(citycard.TxCompositePurchase, func(*keys.Purchase, [4]byte) []byte {
				b := tripBytes(t)
				b[12+3] = 0x32 // entry day 32
				return cmdUpdateCAPP(b)
			})
		}, apdu.SWWrongData},

		// 6B00 offset outside the file.
		{"READ BINARY offset 32", 0, func(*testing.T) setup { return sel([]byte{0x00, 0xB0, 0x95, 0x20, 0x01}) }, apdu.SWWrongOffset},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.profile
			if p == 0 {
				p = card.ProfileMOHURD
			}
			f := newFixture(t, p, []keys.Alg{keys.Alg3DES}, withBalance(1000))
			cmd := tt.setup(t)(f)
			before := f.money()
			_, sw := f.send(cmd)
			if sw != tt.want {
				t.Errorf("%s: SW %v, want %v", apdu.Hex(cmd), sw, tt.want)
			}
			if after := f.money(); after != before {
				t.Errorf("%v changed the card: %+v -> %+v", sw, before, after)
			}
			if sw != apdu.SWOK && sw != apdu.SWWarnFileInvalidated && f.card.State().InTransaction && tt.want != apdu.SWWrongLength {
				// Reads may fail without closing; nothing here that fails is a read of an open transaction.
				t.Errorf("a failed %s left a transaction open", apdu.Hex(cmd[:2]))
			}
		})
	}
}
