package terminal

import (
	"encoding/binary"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

// LoadRequest is what a load terminal (kiosk, service point) sends the
// issuer's host: the card, the load as the card committed to it, and the
// card's MAC1.
type LoadRequest struct {
	Issuer     citycard.IssuerCode
	ASN        citycard.ASN
	KeyVersion uint8
	Alg        keys.Alg
	Load       keys.Load
	MAC1       [4]byte
}

// LoadHost is the issuer's online host for loads: it checks MAC1, books
// the load and answers MAC2; later it receives the card's TAC.
type LoadHost interface {
	// AuthorizeLoad checks req's MAC1 and returns MAC2. Kind Crypto for a
	// wrong MAC1.
	AuthorizeLoad(req LoadRequest) ([4]byte, error)
	// ConfirmLoad hands the host the card's TAC of req's load. Kind Crypto
	// for a wrong TAC.
	ConfirmLoad(req LoadRequest, tac [4]byte) error
}

// LoadResult is what a load did.
type LoadResult struct {
	Card         card.BasicData
	Record       record.Record
	BalanceAfter int64 // fen
	// Recovered is an earlier load whose CREDIT answer was lost, confirmed
	// with GET TRANSACTION PROOF before this one.
	Recovered *record.Record
}

// Load loads amountFen onto the card, online through host. Once CREDIT FOR
// LOAD is sent, only a status word refusing it means nothing happened: a
// load whose CREDIT answer was lost (the card tore) or malformed, or whose
// record could not be sealed and spooled, is kept and recovered with GET
// TRANSACTION PROOF (type 02) before the card's next load here. The load
// record is spooled before the host is told the TAC, so a host that cannot
// be reached, or that refuses the TAC, still leaves the record (the back
// office verifies it); Load then returns the result with the host's error.
// The card is initialized with the newest of Config.KeyVersions it knows,
// as a purchase is. Errors as Tap, plus the host's.
func (t *Terminal) Load(cd apdu.Transport, amountFen uint32, host LoadHost) (LoadResult, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	const op = "terminal.Load"
	now := t.cfg.Now().In(citycard.ChinaTime)
	c := device{name: "card", t: cd}
	var res LoadResult
	pub, err := t.open(op, c, now)
	if err != nil {
		return res, err
	}
	res.Card = pub
	k := cardKey{pub.Issuer, pub.ASN}
	if tl, ok := t.tornLoads[k]; ok {
		rec, recovered, err := t.recoverLoad(op, c, tl, host)
		if recovered {
			res.Recovered = &rec
		}
		if err != nil {
			return res, err
		}
	}

	req, tb, torn, err := creditLoad(op, c, t.cfg.KeyVersions, t.tid, pub, now, amountFen, host)
	if torn {
		// The card tore, or its answer is not a CREDIT's (the TAC): it may
		// have credited. GET TRANSACTION PROOF tells, before its next load.
		t.tornLoads[k] = tornLoad{req: req}
		return res, err
	}
	if err != nil {
		return res, err
	}
	rec, err := t.spoolLoad(op, req, [4]byte(tb), record.StatusComplete)
	if err != nil {
		// The card credited, and the terminal holds no record of it.
		t.tornLoads[k] = tornLoad{req: req}
		return res, err
	}
	res.Record, res.BalanceAfter = rec, rec.BalanceBeforeFen()+int64(amountFen)
	if err := host.ConfirmLoad(req, rec.TAC); err != nil {
		return res, citycard.Wrap(op, citycard.Other, err)
	}
	return res, nil
}

// creditLoad runs the card's side of an online load, after the card's
// public data (pub) is read: INITIALIZE FOR LOAD under the newest of
// versions the card knows with terminal tid, at now; the host's MAC2;
// CREDIT FOR LOAD. It returns the session as sent to the host and the
// card's TAC. Once CREDIT is sent, only a refusal (a status word) means
// nothing was credited; any other failure of it is torn: the card may
// have credited, and only its next session tells. Errors: the card's,
// the host's (wrapped in op).
func creditLoad(op string, c device, versions []uint8, tid citycard.TerminalID, pub card.BasicData, now time.Time, amountFen uint32, host LoadHost) (req LoadRequest, tac []byte, torn bool, err error) {
	// The newest key version the card knows, as for a purchase: the
	// host checks MAC1 under the version the card names in its answer.
	b, err := initialize(op, "INITIALIZE FOR LOAD", c, versions, tid, 0x00, amountFen, 16)
	if err != nil {
		return req, nil, false, err
	}
	date, tm := citycard.DateTime(now)
	req = LoadRequest{Issuer: pub.Issuer, ASN: pub.ASN, KeyVersion: b[6], Alg: keys.Alg(b[7])}
	req.Load = keys.Load{
		OnlineCounter: binary.BigEndian.Uint16(b[4:6]),
		BalanceBefore: binary.BigEndian.Uint32(b[0:4]),
		Amount:        amountFen, Type: citycard.TxLoad, TerminalID: tid, Date: date, Time: tm,
	}
	copy(req.Load.Random[:], b[8:12])
	copy(req.MAC1[:], b[12:16])
	mac2, err := host.AuthorizeLoad(req)
	if err != nil {
		return req, nil, false, citycard.Wrap(op, citycard.Other, err)
	}
	credit := make([]byte, 0, 11)
	credit = append(credit, date[:]...)
	credit = append(credit, tm[:]...)
	credit = append(credit, mac2[:]...)
	tac, err = c.sendLen(op, "CREDIT FOR LOAD", apdu.Command{CLA: 0x80, INS: 0x52, Data: credit, Le: 4}, 4)
	return req, tac, err != nil && !refused(err), err
}

// recoverLoad confirms a load whose CREDIT answer was lost: if the card's
// last transaction is that load, GET TRANSACTION PROOF (type 02) gives its
// TAC, the recovered record is spooled (recovered is true) and the host is
// told the TAC; if not, the card never credited and the host, which booked
// the load as unconfirmed, settles it from the card's later records. On an
// error before the record is spooled the load stays awaiting the card's
// next load.
func (t *Terminal) recoverLoad(op string, c device, tl tornLoad, host LoadHost) (rec record.Record, recovered bool, err error) {
	k := cardKey{tl.req.Issuer, tl.req.ASN}
	b, _, err := c.send(op, "READ RECORD 18/1", readRecordCmd(card.SFILog, 1, false, card.LogEntryLen))
	if err != nil && SWOf(err) != apdu.SWRecordNotFound {
		return rec, false, err
	}
	if err != nil {
		delete(t.tornLoads, k)
		return rec, false, nil
	}
	last, err := card.ParseLogEntry(b)
	if err != nil {
		return rec, false, citycard.Wrap(op, citycard.Invalid, err)
	}
	if last.Type != citycard.TxLoad || last.Counter != tl.req.Load.OnlineCounter || last.AmountFen != tl.req.Load.Amount || last.Terminal != t.tid {
		delete(t.tornLoads, k)
		return rec, false, nil
	}
	data := binary.BigEndian.AppendUint16(nil, tl.req.Load.OnlineCounter)
	proof, err := c.sendLen(op, "GET TRANSACTION PROOF", apdu.Command{CLA: 0x80, INS: 0x5A, P1: 0x00, P2: citycard.TxLoad, Data: data, Le: 8}, 8)
	if err != nil {
		return rec, false, err
	}
	if rec, err = t.spoolLoad(op, tl.req, [4]byte(proof[4:8]), record.StatusRecovered); err != nil {
		return record.Record{}, false, err
	}
	delete(t.tornLoads, k)
	if err := host.ConfirmLoad(tl.req, rec.TAC); err != nil {
		return rec, true, citycard.Wrap(op, citycard.Other, err)
	}
	return rec, true, nil
}

// spoolLoad seals and spools the load record of req with the card's TAC.
func (t *Terminal) spoolLoad(op string, req LoadRequest, tac [4]byte, status record.Status) (record.Record, error) {
	l := req.Load
	rec := record.Record{
		Status: status, Type: citycard.TxLoad,
		Issuer: req.Issuer, ASN: req.ASN, Alg: req.Alg, KeyVersion: req.KeyVersion,
		Counter: l.OnlineCounter, BalanceBefore: l.BalanceBefore, Amount: l.Amount,
		TerminalID: t.tid, PSAMID: t.cfg.PSAMID, Date: l.Date, Time: l.Time,
		Network: t.cfg.Network, Line: t.cfg.Line, Station: t.cfg.Station,
		TAC: tac, RecordKeyVersion: t.cfg.RecordKeyVersion,
	}
	if err := t.seal(op, &rec); err != nil {
		return rec, err
	}
	_, err := t.spool(op, &rec)
	return rec, err
}

// StoreHost is a minimal issuer load host over a key store: it checks
// MAC1, computes MAC2 and checks the TAC with the card's keys derived from
// the issuer master keys. The card-management platform books loads around
// the same checks; traces and tests use this one directly.
type StoreHost struct {
	Store keys.Store
}

func (h StoreHost) cardKey(typ keys.KeyType, req LoadRequest) ([]byte, error) {
	var k [keys.KeyLen]byte
	alg, err := h.Store.DeriveInto(&k, keys.Ref{Issuer: req.Issuer, Type: typ, Version: req.KeyVersion}, req.ASN.Div())
	if err != nil {
		return nil, err
	}
	if alg != req.Alg {
		return nil, citycard.E("terminal.StoreHost", citycard.Invalid, "card says %v, key %v/%v/v%d is %v", req.Alg, req.Issuer, typ, req.KeyVersion, alg)
	}
	return k[:], nil
}

// AuthorizeLoad implements LoadHost.
func (h StoreHost) AuthorizeLoad(req LoadRequest) ([4]byte, error) {
	const op = "terminal.StoreHost.AuthorizeLoad"
	dlk, err := h.cardKey(keys.KeyLoad, req)
	if err != nil {
		return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
	}
	dtk, err := h.cardKey(keys.KeyTAC, req)
	if err != nil {
		return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
	}
	pr, err := keys.LoadProof(req.Alg, dlk, dtk, &req.Load)
	if err != nil {
		return [4]byte{}, citycard.Wrap(op, citycard.Other, err)
	}
	if !keys.Equal4(pr.MAC1, req.MAC1) {
		return [4]byte{}, citycard.E(op, citycard.Crypto, "card %v: MAC1 of the load does not verify", req.ASN)
	}
	return pr.MAC2, nil
}

// ConfirmLoad implements LoadHost.
func (h StoreHost) ConfirmLoad(req LoadRequest, tac [4]byte) error {
	const op = "terminal.StoreHost.ConfirmLoad"
	dtk, err := h.cardKey(keys.KeyTAC, req)
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	want, err := keys.MAC(req.Alg, keys.TACKey(req.Alg, dtk), keys.LoadTACData(&req.Load))
	if err != nil {
		return citycard.Wrap(op, citycard.Other, err)
	}
	if !keys.Equal4(want, tac) {
		return citycard.E(op, citycard.Crypto, "card %v: TAC of the load does not verify", req.ASN)
	}
	return nil
}
