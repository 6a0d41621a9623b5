package keys

import (
	"encoding/binary"

	"github.com/citycard/citycard"
)

// Purchase is what the purchase MACs and TAC are computed over.
type Purchase struct {
	Random         [4]byte // the card's random from INITIALIZE FOR PURCHASE
	OfflineCounter uint16  // the counter the card returned in INITIALIZE
	TerminalSeq    uint32  // the PSAM's terminal transaction sequence
	Amount         uint32  // fen
	Type           byte    // citycard.TxPurchase or citycard.TxCompositePurchase
	TerminalID     citycard.TerminalID
	Date           citycard.BCDDate
	Time           citycard.BCDTime
}

// PurchaseMAC1Data is amount(4) || type(1) || terminal ID(6) || date(4) || time(3).
func PurchaseMAC1Data(p *Purchase) []byte {
	b := make([]byte, 0, 18)
	b = binary.BigEndian.AppendUint32(b, p.Amount)
	b = append(b, p.Type)
	b = append(b, p.TerminalID[:]...)
	b = append(b, p.Date[:]...)
	return append(b, p.Time[:]...)
}

// PurchaseMAC2Data is amount(4).
func PurchaseMAC2Data(p *Purchase) []byte {
	return binary.BigEndian.AppendUint32(nil, p.Amount)
}

// PurchaseTACData is amount(4) || type(1) || terminal ID(6) || terminal
// sequence(4) || date(4) || time(3).
func PurchaseTACData(p *Purchase) []byte {
	var b [22]byte
	return AppendPurchaseTACData(b[:0], p.Amount, p.Type, p.TerminalID, p.TerminalSeq, p.Date, p.Time)
}

// AppendPurchaseTACData appends the purchase TAC input to b; the verifier
// uses it with a stack buffer.
func AppendPurchaseTACData(b []byte, amount uint32, typ byte, tid citycard.TerminalID, seq uint32, d citycard.BCDDate, t citycard.BCDTime) []byte {
	b = binary.BigEndian.AppendUint32(b, amount)
	b = append(b, typ)
	b = append(b, tid[:]...)
	b = binary.BigEndian.AppendUint32(b, seq)
	b = append(b, d[:]...)
	return append(b, t[:]...)
}

// Load is what the load MACs and TAC are computed over.
type Load struct {
	Random        [4]byte // the card's random from INITIALIZE FOR LOAD
	OnlineCounter uint16  // the counter the card returned in INITIALIZE
	BalanceBefore uint32  // fen
	Amount        uint32  // fen
	Type          byte    // citycard.TxLoad
	TerminalID    citycard.TerminalID
	Date          citycard.BCDDate
	Time          citycard.BCDTime
}

// LoadMAC1Data is old balance(4) || amount(4) || type(1) || terminal ID(6).
func LoadMAC1Data(l *Load) []byte {
	b := make([]byte, 0, 15)
	b = binary.BigEndian.AppendUint32(b, l.BalanceBefore)
	b = binary.BigEndian.AppendUint32(b, l.Amount)
	b = append(b, l.Type)
	return append(b, l.TerminalID[:]...)
}

// LoadMAC2Data is amount(4) || type(1) || terminal ID(6) || date(4) || time(3).
func LoadMAC2Data(l *Load) []byte {
	b := make([]byte, 0, 18)
	b = binary.BigEndian.AppendUint32(b, l.Amount)
	b = append(b, l.Type)
	b = append(b, l.TerminalID[:]...)
	b = append(b, l.Date[:]...)
	return append(b, l.Time[:]...)
}

// LoadTACData is new balance(4) || online counter(2) || amount(4) ||
// type(1) || terminal ID(6) || date(4) || time(3). The counter is the one
// the card returned in INITIALIZE FOR LOAD.
func LoadTACData(l *Load) []byte {
	b := make([]byte, 0, 24)
	b = binary.BigEndian.AppendUint32(b, l.BalanceBefore+l.Amount)
	b = binary.BigEndian.AppendUint16(b, l.OnlineCounter)
	b = binary.BigEndian.AppendUint32(b, l.Amount)
	b = append(b, l.Type)
	b = append(b, l.TerminalID[:]...)
	b = append(b, l.Date[:]...)
	return append(b, l.Time[:]...)
}

// Proof is the session key and the three MACs of one transaction.
type Proof struct {
	SessionKey []byte
	MAC1       [4]byte
	MAC2       [4]byte
	TAC        [4]byte
}

// PurchaseProof computes the session key, MAC1, MAC2 and TAC of a purchase
// from the card's DPK and DTK. Card, PSAM and test vectors all use it.
func PurchaseProof(alg Alg, dpk, dtk []byte, p *Purchase) (Proof, error) {
	var pr Proof
	sk, err := SessionKey(alg, dpk, PurchaseSessionInput(p.Random, p.OfflineCounter, p.TerminalSeq))
	if err != nil {
		return pr, err
	}
	pr.SessionKey = sk
	if pr.MAC1, err = MAC(alg, sk, PurchaseMAC1Data(p)); err != nil {
		return pr, err
	}
	if pr.MAC2, err = MAC(alg, sk, PurchaseMAC2Data(p)); err != nil {
		return pr, err
	}
	pr.TAC, err = MAC(alg, TACKey(alg, dtk), PurchaseTACData(p))
	return pr, err
}

// LoadProof computes the session key, MAC1, MAC2 and TAC of a load from the
// card's DLK and DTK.
func LoadProof(alg Alg, dlk, dtk []byte, l *Load) (Proof, error) {
	var pr Proof
	sk, err := SessionKey(alg, dlk, LoadSessionInput(l.Random, l.OnlineCounter))
	if err != nil {
		return pr, err
	}
	pr.SessionKey = sk
	if pr.MAC1, err = MAC(alg, sk, LoadMAC1Data(l)); err != nil {
		return pr, err
	}
	if pr.MAC2, err = MAC(alg, sk, LoadMAC2Data(l)); err != nil {
		return pr, err
	}
	pr.TAC, err = MAC(alg, TACKey(alg, dtk), LoadTACData(l))
	return pr, err
}
