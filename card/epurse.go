package card

import (
	"bytes"
	"encoding/binary"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/keys"
)

// doSelect answers SELECT by AID (00 A4 04 00). A failed SELECT leaves the
// selection as it was.
func (c *Card) doSelect(cmd apdu.Command) []byte {
	if cmd.P1 != 0x04 || cmd.P2 != 0x00 {
		return sw(apdu.SWWrongP1P2)
	}
	if len(cmd.Data) == 0 {
		return sw(apdu.SWWrongLength)
	}
	var resp []byte
	switch {
	case bytes.Equal(cmd.Data, c.profile.AID()):
		resp = epurseFCI(c.profile)
		if !leOK(cmd, len(resp)) {
			return sw(apdu.SWWrongLength)
		}
		c.selected = appEPurse
		if c.blocked {
			return apdu.Response{Data: resp, SW: apdu.SWWarnFileInvalidated}.Encode()
		}
	case c.profile == ProfileCitizen && bytes.Equal(cmd.Data, BankAID()):
		resp = bankFCI()
		if !leOK(cmd, len(resp)) {
			return sw(apdu.SWWrongLength)
		}
		c.selected = appBank
	default:
		return sw(apdu.SWFileNotFound)
	}
	return ok(resp)
}

// doReadBinary answers READ BINARY of the basic data file (00 B0 95 off
// Le) or the entitlement file (00 B0 9A off Le) by SFI. Le 00 or absent
// reads to the end of the file.
func (c *Card) doReadBinary(cmd apdu.Command) []byte {
	if cmd.P1&0x80 == 0 || cmd.P1&0x60 != 0 {
		return sw(apdu.SWWrongP1P2)
	}
	var file []byte
	switch cmd.P1 & 0x1F {
	case SFIBasicData:
		file = c.basic
	case SFIEntitlements:
		file = c.entitlements
	}
	if file == nil {
		return sw(apdu.SWFileNotFound)
	}
	if len(cmd.Data) != 0 {
		return sw(apdu.SWWrongLength)
	}
	off := int(cmd.P2)
	if off >= len(file) {
		return sw(apdu.SWWrongOffset)
	}
	n := len(file) - off
	if cmd.Le != -1 && cmd.Le != 256 {
		if cmd.Le > n {
			return sw(apdu.SWWrongLength)
		}
		n = cmd.Le
	}
	return ok(bytes.Clone(file[off : off+n]))
}

// doReadRecord answers READ RECORD: the log by record number
// (00 B2 NN C4 17) or the transit file by identifier (00 B2 ID B8 00).
// It shows what is committed, never the cache of an open transaction.
func (c *Card) doReadRecord(cmd apdu.Command) []byte {
	sfi, mode := cmd.P2>>3, cmd.P2&0x07
	if len(cmd.Data) != 0 {
		return sw(apdu.SWWrongLength)
	}
	var rec []byte
	switch sfi {
	case SFILog:
		if mode != 0x04 || cmd.P1 == 0 {
			return sw(apdu.SWWrongP1P2)
		}
		n := int(cmd.P1)
		if n > len(c.log) {
			return sw(apdu.SWRecordNotFound)
		}
		b, err := c.log[n-1].MarshalBinary()
		if err != nil {
			panic("card: own log entry unwritable: " + err.Error())
		}
		rec = b
	case SFITransit:
		if mode != 0x00 {
			return sw(apdu.SWWrongP1P2)
		}
		b, found := c.transit[cmd.P1]
		if !found {
			return sw(apdu.SWRecordNotFound)
		}
		rec = b
	default:
		return sw(apdu.SWFileNotFound)
	}
	if !leOK(cmd, len(rec)) {
		return sw(apdu.SWWrongLength)
	}
	return ok(bytes.Clone(rec))
}

// doGetChallenge answers GET CHALLENGE (00 84 00 00 04): a random good for
// the next command.
func (c *Card) doGetChallenge(cmd apdu.Command) ([]byte, error) {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return sw(apdu.SWWrongP1P2), nil
	}
	if !lengthOK(cmd, 0, 4) {
		return sw(apdu.SWWrongLength), nil
	}
	r, err := c.random()
	if err != nil {
		return nil, err
	}
	c.challenge = &r
	return ok(r[:]), nil
}

// doGetBalance answers GET BALANCE (80 5C 00 02 04).
func (c *Card) doGetBalance(cmd apdu.Command) []byte {
	if cmd.P1 != 0x00 || cmd.P2 != 0x02 {
		return sw(apdu.SWWrongP1P2)
	}
	if !lengthOK(cmd, 0, 4) {
		return sw(apdu.SWWrongLength)
	}
	return ok(binary.BigEndian.AppendUint32(nil, wire(c.balance)))
}

// doInitialize answers INITIALIZE FOR LOAD (P1 00), PURCHASE (01) and
// CAPP PURCHASE (03), P2 02 (the e-purse). The checks run in this order:
// P1 P2 (6A86), lengths (6700), blocked (6A81), key version (9403),
// counter limit (9402), amount (9401 for a purchase over balance plus
// overdraw; 6A80 for a load of zero or over the maximum balance).
func (c *Card) doInitialize(cmd apdu.Command) ([]byte, error) {
	c.tx = nil
	var typ byte
	var respLen int
	switch cmd.P1 {
	case 0x00:
		typ, respLen = citycard.TxLoad, 16
	case 0x01:
		typ, respLen = citycard.TxPurchase, 15
	case 0x03:
		typ, respLen = citycard.TxCompositePurchase, 15
	default:
		return sw(apdu.SWWrongP1P2), nil
	}
	if cmd.P2 != 0x02 {
		return sw(apdu.SWWrongP1P2), nil
	}
	if !lengthOK(cmd, 11, respLen) {
		return sw(apdu.SWWrongLength), nil
	}
	if c.blocked {
		return sw(apdu.SWFuncNotSupported), nil
	}
	ks := c.keySet(cmd.Data[0])
	if ks == nil {
		return sw(apdu.SWKeyIndexUnsupported), nil
	}
	tx := &transaction{
		typ:     typ,
		keys:    ks,
		amount:  binary.BigEndian.Uint32(cmd.Data[1:5]),
		balance: c.balance,
	}
	copy(tx.terminal[:], cmd.Data[5:11])
	tx.counter = c.offline
	if typ == citycard.TxLoad {
		tx.counter = c.online
	}
	if tx.counter == counterMax {
		return sw(SWCounterLimit), nil
	}
	if typ == citycard.TxLoad {
		if tx.amount == 0 || c.balance+int64(tx.amount) > c.balanceMax {
			return sw(apdu.SWWrongData), nil
		}
	} else if int64(tx.amount) > c.balance+c.overdraw {
		return sw(apdu.SWInsufficientFunds), nil
	}
	r, err := c.random()
	if err != nil {
		return nil, err
	}
	tx.random = r

	resp := binary.BigEndian.AppendUint32(make([]byte, 0, respLen), wire(c.balance))
	resp = binary.BigEndian.AppendUint16(resp, tx.counter)
	if typ == citycard.TxLoad {
		pr, err := keys.LoadProof(ks.Alg, ks.Load[:], ks.TAC[:], tx.load(citycard.BCDDate{}, citycard.BCDTime{}))
		if err != nil {
			panic("card: load MAC1 with personalized keys: " + err.Error())
		}
		resp = append(resp, ks.Version, byte(ks.Alg))
		resp = append(resp, r[:]...)
		resp = append(resp, pr.MAC1[:]...)
	} else {
		resp = append(resp, byte(c.overdraw>>16), byte(c.overdraw>>8), byte(c.overdraw))
		resp = append(resp, ks.Version, byte(ks.Alg))
		resp = append(resp, r[:]...)
	}
	if len(resp) != respLen {
		panic("card: INITIALIZE response of the wrong length")
	}
	c.tx = tx
	return ok(resp), nil
}

// load is what the load MACs and TAC of tx cover.
func (tx *transaction) load(d citycard.BCDDate, t citycard.BCDTime) *keys.Load {
	return &keys.Load{
		Random:        tx.random,
		OnlineCounter: tx.counter,
		BalanceBefore: wire(tx.balance),
		Amount:        tx.amount,
		Type:          tx.typ,
		TerminalID:    tx.terminal,
		Date:          d,
		Time:          t,
	}
}

// doUpdateCAPP answers UPDATE CAPP DATA CACHE (80 DC id B8 Lc record):
// it caches a transit record, to be written when the debit commits. The
// checks run in this order: P2 (6A86 for a mode other than by identifier,
// 6A82 for a file other than 17h), an open composite purchase (6985), the
// identifier is one of 01, 02, 10h-17h (6A83), the data length is that
// identifier's and Le absent or 00 (6700), the record's first byte is P1
// and every field decodes (6A80). A failure closes the transaction.
func (c *Card) doUpdateCAPP(cmd apdu.Command) []byte {
	tx := c.tx
	c.tx = nil
	switch {
	case cmd.P2&0x07 != 0:
		return sw(apdu.SWWrongP1P2)
	case cmd.P2>>3 != SFITransit:
		return sw(apdu.SWFileNotFound)
	case tx == nil || tx.typ != citycard.TxCompositePurchase:
		return sw(apdu.SWConditionsNotMet)
	}
	n, known := RecordLen(cmd.P1)
	if !known {
		return sw(apdu.SWRecordNotFound)
	}
	if !lengthOK(cmd, n, 0) {
		return sw(apdu.SWWrongLength)
	}
	if cmd.Data[0] != cmd.P1 {
		return sw(apdu.SWWrongData)
	}
	if _, err := ParseTransitRecord(cmd.Data); err != nil {
		return sw(apdu.SWWrongData)
	}
	if tx.cache == nil {
		tx.cache = map[byte][]byte{}
	}
	tx.cache[cmd.P1] = bytes.Clone(cmd.Data)
	c.tx = tx
	return ok(nil)
}

// doDebit answers DEBIT FOR PURCHASE (80 54 01 00 0F seq date time MAC1):
// after an INITIALIZE FOR PURCHASE or CAPP PURCHASE, it checks MAC1 and
// commits: balance down by the amount, offline counter up by one, a log
// entry, the cached transit records. It answers TAC || MAC2.
func (c *Card) doDebit(cmd apdu.Command) []byte {
	tx := c.tx
	c.tx = nil
	if cmd.P1 != 0x01 || cmd.P2 != 0x00 {
		return sw(apdu.SWWrongP1P2)
	}
	if !lengthOK(cmd, 15, 8) {
		return sw(apdu.SWWrongLength)
	}
	if tx == nil || tx.typ == citycard.TxLoad {
		return sw(apdu.SWConditionsNotMet)
	}
	p := &keys.Purchase{
		Random:         tx.random,
		OfflineCounter: tx.counter,
		TerminalSeq:    binary.BigEndian.Uint32(cmd.Data[0:4]),
		Amount:         tx.amount,
		Type:           tx.typ,
		TerminalID:     tx.terminal,
	}
	copy(p.Date[:], cmd.Data[4:8])
	copy(p.Time[:], cmd.Data[8:11])
	var mac1 [4]byte
	copy(mac1[:], cmd.Data[11:15])
	pr, err := keys.PurchaseProof(tx.keys.Alg, tx.keys.Purchase[:], tx.keys.TAC[:], p)
	if err != nil {
		panic("card: purchase MACs with personalized keys: " + err.Error())
	}
	if !keys.Equal4(mac1, pr.MAC1) {
		return sw(apdu.SWMACInvalid)
	}
	c.commit(tx, p.Date, p.Time, pr.MAC2, pr.TAC)
	resp := append(pr.TAC[:], pr.MAC2[:]...)
	return ok(resp)
}

// doCredit answers CREDIT FOR LOAD (80 52 00 00 0B date time MAC2): after
// an INITIALIZE FOR LOAD, it checks the host's MAC2 and commits: balance
// up by the amount, online counter up by one, a log entry. It answers TAC.
func (c *Card) doCredit(cmd apdu.Command) []byte {
	tx := c.tx
	c.tx = nil
	if cmd.P1 != 0x00 || cmd.P2 != 0x00 {
		return sw(apdu.SWWrongP1P2)
	}
	if !lengthOK(cmd, 11, 4) {
		return sw(apdu.SWWrongLength)
	}
	if tx == nil || tx.typ != citycard.TxLoad {
		return sw(apdu.SWConditionsNotMet)
	}
	var d citycard.BCDDate
	var t citycard.BCDTime
	var mac2 [4]byte
	copy(d[:], cmd.Data[0:4])
	copy(t[:], cmd.Data[4:7])
	copy(mac2[:], cmd.Data[7:11])
	pr, err := keys.LoadProof(tx.keys.Alg, tx.keys.Load[:], tx.keys.TAC[:], tx.load(d, t))
	if err != nil {
		panic("card: load MACs with personalized keys: " + err.Error())
	}
	if !keys.Equal4(mac2, pr.MAC2) {
		return sw(apdu.SWMACInvalid)
	}
	c.commit(tx, d, t, pr.MAC2, pr.TAC)
	return ok(pr.TAC[:])
}

// commit writes a transaction: the balance, the counter, the log, the
// transit records and the proof GET TRANSACTION PROOF answers with. It
// cannot fail: INITIALIZE checked every limit.
func (c *Card) commit(tx *transaction, d citycard.BCDDate, t citycard.BCDTime, mac2, tac [4]byte) {
	if tx.balance != c.balance {
		panic("card: balance moved inside a transaction")
	}
	switch tx.typ {
	case citycard.TxLoad:
		c.balance += int64(tx.amount)
		c.online = tx.counter + 1
	default:
		c.balance -= int64(tx.amount)
		c.offline = tx.counter + 1
	}
	if c.balance > c.balanceMax || c.balance < -c.overdraw {
		panic("card: committed balance outside its limits")
	}
	e := LogEntry{
		Counter:     tx.counter,
		OverdrawFen: uint32(c.overdraw),
		AmountFen:   tx.amount,
		Type:        tx.typ,
		Terminal:    tx.terminal,
		Date:        d,
		Time:        t,
	}
	c.log = append([]LogEntry{e}, c.log...)
	if len(c.log) > LogLen {
		c.log = c.log[:LogLen]
	}
	for id, rec := range tx.cache {
		c.transit[id] = rec
	}
	c.last = &TransactionProof{Type: tx.typ, Counter: tx.counter, MAC2: mac2, TAC: tac}
}

// doGetProof answers GET TRANSACTION PROOF (80 5A 00 type 02 counter):
// MAC2 || TAC of the last committed transaction if its type and counter
// match, else 9406. P2 other than 02, 06, 09 is 6A86.
func (c *Card) doGetProof(cmd apdu.Command) []byte {
	if cmd.P1 != 0x00 {
		return sw(apdu.SWWrongP1P2)
	}
	switch cmd.P2 {
	case citycard.TxLoad, citycard.TxPurchase, citycard.TxCompositePurchase:
	default:
		return sw(apdu.SWWrongP1P2)
	}
	if !lengthOK(cmd, 2, 8) {
		return sw(apdu.SWWrongLength)
	}
	counter := binary.BigEndian.Uint16(cmd.Data)
	if c.last == nil || c.last.Type != cmd.P2 || c.last.Counter != counter {
		return sw(apdu.SWMACNotAvailable)
	}
	resp := append(c.last.MAC2[:], c.last.TAC[:]...)
	return ok(resp)
}

// doBlock answers APPLICATION BLOCK and UNBLOCK (84 1E|18 00 00 04 MAC):
// the MAC is keys.MAC under the newest key set's maintenance key (DAMK)
// over challenge(4) || the 5-byte header with Lc. Without a challenge from
// the command just before, or with a wrong MAC, 6982. Blocking a blocked
// card (or unblocking an unblocked one) succeeds and changes nothing.
func (c *Card) doBlock(o op, cmd apdu.Command, challenge *[4]byte) []byte {
	if cmd.P1 != 0 || cmd.P2 != 0 {
		return sw(apdu.SWWrongP1P2)
	}
	if !lengthOK(cmd, 4, 0) {
		return sw(apdu.SWWrongLength)
	}
	if challenge == nil {
		return sw(apdu.SWSecurityStatus)
	}
	want, err := BlockMAC(c.maintenance.Alg, c.maintenance.Maintenance[:], *challenge, cmd.CLA, cmd.INS)
	if err != nil {
		panic("card: block MAC with personalized keys: " + err.Error())
	}
	var got [4]byte
	copy(got[:], cmd.Data)
	if !keys.Equal4(got, want) {
		return sw(apdu.SWSecurityStatus)
	}
	c.blocked = o == opBlock
	return ok(nil)
}

// BlockMAC computes the MAC of APPLICATION BLOCK (ins 1E) or UNBLOCK (ins
// 18): keys.MAC under the card's maintenance key damk over challenge(4) ||
// the header cla ins 00 00 04. Terminals and tests use it; kind Invalid for
// a bad key or algorithm.
func BlockMAC(alg keys.Alg, damk []byte, challenge [4]byte, cla, ins byte) ([4]byte, error) {
	m, err := keys.MAC(alg, damk, challenge[:], []byte{cla, ins, 0x00, 0x00, 0x04})
	if err != nil {
		return m, citycard.Wrap("card.BlockMAC", citycard.Invalid, err)
	}
	return m, nil
}
