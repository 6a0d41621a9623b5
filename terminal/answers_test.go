package terminal

import (
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apdu"
	"github.com/citycard/citycard/card"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/record"
)

// The tests of this file put a tampering transport between the terminal
// and a genuine card or PSAM, so that any command's answer can be cut,
// padded, replaced or lost, after the device ran the command or without
// it ever running.

// fate says what becomes of one command and of its answer.
type fate struct {
	skip    bool   // the command never reaches the device
	replace bool   // the terminal gets resp and err, not the device's answer
	resp    []byte // the answer the terminal gets when skip or replace
	err     error  // the transport error the terminal gets when skip or replace
	// keepOK makes a replaced answer claim 9000 when the device's own
	// answer did: the device ran the command and says so, garbling only
	// its data.
	keepOK bool
}

// genuine lets a command through untouched.
var genuine fate

// answer replaces the device's answer with raw bytes, after the device ran
// the command.
func answer(raw ...byte) fate { return fate{replace: true, resp: raw} }

// tampered is a transport to a genuine device whose commands meet the fate
// decide gives them. It records what the terminal sent and received.
type tampered struct {
	dev    apdu.Transport
	decide func(cmd []byte) fate
	log    []exchange
}

type exchange struct {
	cmd  []byte
	resp []byte // what the terminal got; nil with err
	err  error
}

func (x *tampered) Transmit(cmd []byte) ([]byte, error) {
	f := genuine
	if x.decide != nil {
		f = x.decide(cmd)
	}
	var resp []byte
	var err error
	if !f.skip {
		resp, err = x.dev.Transmit(cmd)
	}
	if f.skip || f.replace {
		ok := err == nil && len(resp) >= 2 && resp[len(resp)-2] == 0x90 && resp[len(resp)-1] == 0x00
		resp, err = f.resp, f.err
		if f.keepOK && ok && len(resp) >= 2 {
			resp = append(resp[:len(resp)-2:len(resp)-2], 0x90, 0x00)
		}
	}
	x.log = append(x.log, exchange{cmd: append([]byte(nil), cmd...), resp: append([]byte(nil), resp...), err: err})
	return resp, err
}

// sent returns the exchanges of commands with instruction ins.
func (x *tampered) sent(ins byte) []exchange {
	var out []exchange
	for _, e := range x.log {
		if len(e.cmd) >= 2 && e.cmd[1] == ins {
			out = append(out, e)
		}
	}
	return out
}

// Instruction bytes of the commands the terminal sends the card.
const (
	insSelect       = 0xA4
	insReadBinary   = 0xB0
	insReadRecord   = 0xB2
	insGetBalance   = 0x5C
	insInitialize   = 0x50
	insDebit        = 0x54
	insCredit       = 0x52
	insUpdateCAPP   = 0xDC
	insGetProof     = 0x5A
	insGetChallenge = 0x84
)

// onNth gives f to the n-th command (from 1) with instruction ins (and,
// if p1 >= 0, that P1), genuine to every other.
func onNth(ins byte, p1 int, n int, f fate) func([]byte) fate {
	seen := 0
	return func(cmd []byte) fate {
		if len(cmd) < 4 || cmd[1] != ins || (p1 >= 0 && cmd[2] != byte(p1)) {
			return genuine
		}
		seen++
		if seen == n {
			return f
		}
		return genuine
	}
}

// tamperPSAM puts a tampering transport between tt and its PSAM.
func tamperPSAM(tt testTerminal) *tampered {
	x := &tampered{dev: tt.cfg.PSAM}
	tt.cfg.PSAM = x
	tt.psam.t = x
	return x
}

// TestDebitAnswerMalformed: the card debits and its answer to DEBIT is not
// an answer (cut short, too long, without a status word): the tap ends as
// a grey record, never a panic, and the card's next tap recovers it.
func TestDebitAnswerMalformed(t *testing.T) {
	for name, f := range map[string]fate{
		"2 bytes and 9000": answer(0x12, 0x34, 0x90, 0x00),
		"7 bytes and 9000": answer(1, 2, 3, 4, 5, 6, 7, 0x90, 0x00),
		"9 bytes and 9000": answer(1, 2, 3, 4, 5, 6, 7, 8, 9, 0x90, 0x00),
		"9000 alone":       answer(0x90, 0x00),
		"one byte":         answer(0x90),
		"nothing":          answer(),
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, keys.Alg3DES)
			c := w.newCard(card.ProfileMOHURD, 21, 1)
			w.load(c, 1000)
			pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
			x := &tampered{dev: c, decide: onNth(insDebit, -1, 1, f)}
			r, err := pos.Tap(x, 120)
			if err == nil || !r.Grey || r.Record.Status != record.StatusGrey {
				t.Fatalf("tap: err %v, grey %v, status %v; want an error and the grey record", err, r.Grey, r.Record.Status)
			}
			if !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("tap: %v, want kind Invalid", err)
			}
			if got := c.State().BalanceFen; got != 880 {
				t.Fatalf("the card debited, balance %d, want 880", got)
			}
			if got := pos.spool.pending(t); len(got) != 1 || got[0] != r.Record {
				t.Fatalf("spool holds %d records, want the grey one", len(got))
			}
			if pos.Greys() != 1 {
				t.Fatalf("%d greys awaiting recovery, want 1", pos.Greys())
			}
			// The rider taps again: the debit is recovered, nothing more paid.
			w.now = w.now.Add(30 * time.Second)
			r2, err := pos.Tap(c, 120)
			if err != nil {
				t.Fatal(err)
			}
			if r2.Recovered == nil || r2.Recovered.Status != record.StatusRecovered || r2.Recovered.TerminalSeq != r.Record.TerminalSeq {
				t.Fatalf("second tap recovered %+v", r2.Recovered)
			}
			if err := w.verifier().Verify(r2.Recovered); err != nil {
				t.Fatalf("recovered record: %v", err)
			}
			if got := pos.spool.pending(t); len(got) != 1 || got[0] != *r2.Recovered {
				t.Fatalf("spool holds %d records, want the recovered one alone", len(got))
			}
			if got := c.State().BalanceFen; got != 880 || pos.Greys() != 0 {
				t.Fatalf("balance %d, %d greys; want 880 and none", got, pos.Greys())
			}
		})
	}
}

// TestDebitRefusedAsToday: a DEBIT refused with a status word did nothing
// on the card; the grey record is dropped, as before.
func TestDebitRefusedAsToday(t *testing.T) {
	w := newWorld(t, keys.Alg3DES)
	c := w.newCard(card.ProfileMOHURD, 22, 1)
	w.load(c, 1000)
	pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
	x := &tampered{dev: c, decide: onNth(insDebit, -1, 1, fate{skip: true, resp: []byte{0x69, 0x85}})}
	r, err := pos.Tap(x, 120)
	if SWOf(err) != apdu.SWConditionsNotMet || r.Grey {
		t.Fatalf("tap: %v, grey %v; want the refusal 6985 and no grey record", err, r.Grey)
	}
	if n := len(pos.spool.pending(t)); n != 0 || pos.Greys() != 0 {
		t.Fatalf("%d records spooled, %d greys after a refused debit", n, pos.Greys())
	}
}

// TestCompleteRecordUnsealedStaysGrey: the card debits and answers, but
// the PSAM's record MAC for the complete record comes back short: the
// terminal has no complete record it can trust, so the grey one stays and
// is recovered.
func TestCompleteRecordUnsealedStaysGrey(t *testing.T) {
	w := newWorld(t, keys.AlgSM4)
	c := w.newCard(card.ProfileMoT, 23, 1)
	w.load(c, 1000)
	pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
	psam := tamperPSAM(pos)
	// The first GENERATE MAC 05 seals the grey record, the second the complete one.
	psam.decide = onNth(insGenerateMAC, p1RecordMAC, 2, answer(0xAB, 0x90, 0x00))
	r, err := pos.Tap(c, 150)
	if !citycard.IsKind(err, citycard.Invalid) || !r.Grey {
		t.Fatalf("tap: %v, grey %v; want kind Invalid and the grey record", err, r.Grey)
	}
	if got := pos.spool.pending(t); len(got) != 1 || got[0].Status != record.StatusGrey {
		t.Fatalf("spool holds %d records, want the grey one", len(got))
	}
	psam.decide = nil
	w.now = w.now.Add(time.Minute)
	r2, err := pos.Tap(c, 150)
	if err != nil || r2.Recovered == nil {
		t.Fatalf("second tap: %v, recovered %v", err, r2.Recovered)
	}
	if err := w.verifier().Verify(r2.Recovered); err != nil {
		t.Fatalf("recovered record: %v", err)
	}
	if got := c.State().BalanceFen; got != 850 {
		t.Fatalf("balance %d, want 850", got)
	}
}

// TestProofAnswerMalformed: GET TRANSACTION PROOF answered short does not
// crash the recovery; the grey record waits for the next tap.
func TestProofAnswerMalformed(t *testing.T) {
	w := newWorld(t, keys.Alg3DES)
	c := w.newCard(card.ProfileMOHURD, 24, 1)
	w.load(c, 1000)
	pos := w.terminal(ModePOS, 0, FlatFare{}, nil)
	c.Tear(card.TearAfterCommit)
	if r, _ := pos.Tap(c, 100); !r.Grey {
		t.Fatal("torn tap left no grey record")
	}
	x := &tampered{dev: c, decide: onNth(insGetProof, -1, 1, answer(1, 2, 3, 0x90, 0x00))}
	if _, err := pos.Tap(x, 100); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("tap with a short proof: %v, want kind Invalid", err)
	}
	if pos.Greys() != 1 {
		t.Fatalf("%d greys, want the one still awaiting recovery", pos.Greys())
	}
	r, err := pos.Tap(c, 100)
	if err != nil || r.Recovered == nil || r.Recovered.Amount != 100 {
		t.Fatalf("third tap: %v, recovered %v", err, r.Recovered)
	}
	if got := c.State().BalanceFen; got != 900 {
		t.Fatalf("balance %d, want 900: one debit", got)
	}
}

// TestCreditAnswerMalformed: the card credits a load and its answer to
// CREDIT FOR LOAD is cut short: no panic, and the load is recovered with
// its TAC before the card's next load.
func TestCreditAnswerMalformed(t *testing.T) {
	for name, f := range map[string]fate{
		"2 bytes and 9000": answer(0x12, 0x34, 0x90, 0x00),
		"9000 alone":       answer(0x90, 0x00),
		"one byte":         answer(0x00),
	} {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t, keys.AlgSM4)
			c := w.newCard(card.ProfileMoT, 25, 1)
			sp := w.terminal(ModePOS, 0, FlatFare{}, nil)
			host := StoreHost{Store: w.store}
			x := &tampered{dev: c, decide: onNth(insCredit, -1, 1, f)}
			if _, err := sp.Load(x, 2000, host); !citycard.IsKind(err, citycard.Invalid) {
				t.Fatalf("load: %v, want kind Invalid", err)
			}
			if got := c.State().BalanceFen; got != 2000 {
				t.Fatalf("the card credited, balance %d, want 2000", got)
			}
			r, err := sp.Load(c, 500, host)
			if err != nil {
				t.Fatal(err)
			}
			if r.Recovered == nil || r.Recovered.Amount != 2000 || r.Recovered.Status != record.StatusRecovered {
				t.Fatalf("load not recovered: %+v", r.Recovered)
			}
			if err := w.verifier().Verify(r.Recovered); err != nil {
				t.Fatalf("recovered load: %v", err)
			}
			if got := sp.spool.pending(t); len(got) != 2 {
				t.Fatalf("spool holds %d records, want the two loads", len(got))
			}
		})
	}
}

// TestLoadProofAnswerMalformed: the proof of a torn load answered short
// does not crash; the load stays awaiting recovery.
func TestLoadProofAnswerMalformed(t *testing.T) {
	w := newWorld(t, keys.Alg3DES)
	c := w.newCard(card.ProfileMOHURD, 26, 1)
	sp := w.terminal(ModePOS, 0, FlatFare{}, nil)
	host := StoreHost{Store: w.store}
	c.Tear(card.TearAfterCommit)
	if _, err := sp.Load(c, 2000, host); !citycard.IsKind(err, citycard.IO) {
		t.Fatalf("torn load: %v", err)
	}
	x := &tampered{dev: c, decide: onNth(insGetProof, -1, 1, answer(0x90, 0x00))}
	if _, err := sp.Load(x, 500, host); !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("load with a short proof: %v, want kind Invalid", err)
	}
	r, err := sp.Load(c, 500, host)
	if err != nil || r.Recovered == nil || r.Recovered.Amount != 2000 {
		t.Fatalf("load: %v, recovered %v", err, r.Recovered)
	}
	if got := c.State().BalanceFen; got != 2500 {
		t.Fatalf("balance %d, want 2500", got)
	}
}

// failingHost is a load host that cannot be reached for confirmations.
type failingHost struct{ StoreHost }

func (failingHost) ConfirmLoad(LoadRequest, [4]byte) error {
	return citycard.E("test", citycard.IO, "host unreachable")
}

// TestLoadRecordKeptWhenHostUnreachable: the card credited and gave its
// TAC; the host cannot be told, and the record is spooled all the same.
func TestLoadRecordKeptWhenHostUnreachable(t *testing.T) {
	w := newWorld(t, keys.Alg3DES)
	c := w.newCard(card.ProfileMOHURD, 27, 1)
	sp := w.terminal(ModePOS, 0, FlatFare{}, nil)
	r, err := sp.Load(c, 700, failingHost{StoreHost{Store: w.store}})
	if !citycard.IsKind(err, citycard.IO) {
		t.Fatalf("load: %v, want the host's IO error", err)
	}
	got := sp.spool.pending(t)
	if len(got) != 1 || got[0] != r.Record || got[0].Amount != 700 || got[0].Status != record.StatusComplete {
		t.Fatalf("spool holds %d records, want the load's", len(got))
	}
	if err := w.verifier().Verify(&got[0]); err != nil {
		t.Fatalf("load record: %v", err)
	}
}

// TestAnswerMalformedBeforeDebit: any answer of the wrong length before
// DEBIT is sent ends the tap with a clear error and no record, the card
// untouched.
func TestAnswerMalformedBeforeDebit(t *testing.T) {
	short := answer(0x01, 0x90, 0x00)
	for _, tc := range []struct {
		name    string
		mode    Mode
		card    func([]byte) fate
		psam    func([]byte) fate
		blocked bool // the card is on the blacklist
	}{
		{name: "READ BINARY 15", mode: ModePOS, card: onNth(insReadBinary, -1, 1, short)},
		{name: "READ RECORD trip", mode: ModeFlat, card: onNth(insReadRecord, -1, 1, answer(card.RecordJourney, 0, 0x90, 0x00))},
		{name: "INITIALIZE FOR PURCHASE", mode: ModePOS, card: onNth(insInitialize, -1, 1, short)},
		{name: "UPDATE CAPP DATA CACHE", mode: ModeFlat, card: onNth(insUpdateCAPP, -1, 1, short)},
		{name: "INIT SAM FOR PURCHASE", mode: ModePOS, psam: onNth(insInitSAMPurchase, -1, 1, answer(0, 0, 0x90, 0x00))},
		{name: "GENERATE MAC 05 of the grey record", mode: ModePOS, psam: onNth(insGenerateMAC, p1RecordMAC, 1, short)},
		{name: "GET CHALLENGE", mode: ModePOS, card: onNth(insGetChallenge, -1, 1, short), blocked: true},
		{name: "GENERATE MAC 06", mode: ModePOS, psam: onNth(insGenerateMAC, p1MaintenanceMAC, 1, short), blocked: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t, keys.Alg3DES)
			c := w.newCard(card.ProfileCitizen, 28, 1)
			w.load(c, 1000)
			var bl Blacklist
			if tc.blocked {
				bl = listBL{c.State().ASN: true}
			}
			term := w.terminal(tc.mode, 5, FlatFare{Fen: 200}, bl)
			tamperPSAM(term).decide = tc.psam
			x := &tampered{dev: c, decide: tc.card}
			before := c.State()
			r, err := term.Tap(x, 120)
			if !citycard.IsKind(err, citycard.Invalid) || r.Grey {
				t.Fatalf("tap: %v, grey %v; want kind Invalid and no grey record", err, r.Grey)
			}
			if len(x.sent(insDebit)) != 0 {
				t.Fatal("DEBIT sent after a malformed answer")
			}
			if n := len(term.spool.pending(t)); n != 0 || term.Greys() != 0 {
				t.Fatalf("%d records spooled, %d greys", n, term.Greys())
			}
			after := c.State()
			if after.BalanceFen != before.BalanceFen || after.OfflineCounter != before.OfflineCounter || after.Blocked {
				t.Fatalf("card changed: balance %d, counter %d, blocked %v", after.BalanceFen, after.OfflineCounter, after.Blocked)
			}
		})
	}
}

// TestTerminalIDAnswerMalformed: a PSAM whose terminal number answer is
// short gives no terminal, rather than one with a zero-padded ID.
func TestTerminalIDAnswerMalformed(t *testing.T) {
	w := newWorld(t, keys.Alg3DES)
	good := w.terminal(ModePOS, 0, FlatFare{}, nil)
	psam := &tampered{dev: good.cfg.PSAM, decide: onNth(insReadBinary, -1, 1, answer(0x31, 0x50, 0x90, 0x00))}
	cfg := good.cfg
	cfg.PSAM = psam
	_, err := New(cfg)
	var ae *answerError
	if !citycard.IsKind(err, citycard.Invalid) || !errors.As(err, &ae) || ae.got != 2 || ae.want != 6 {
		t.Fatalf("New: %v, want kind Invalid: 2 bytes, want 6", err)
	}
}

// debitSeq returns the terminal sequence a DEBIT FOR PURCHASE command
// carries.
func debitSeq(cmd []byte) (uint32, bool) {
	c, err := apdu.ParseCommand(cmd)
	if err != nil || len(c.Data) < 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(c.Data[0:4]), true
}

// script hands out fates from fuzz bytes, one per command, in the order
// the terminal sends them to the card and the PSAM alike; once it runs out
// every command is genuine. Each fate takes a byte h and, for an answer,
// a length byte and that many bytes:
//
//	h%4 == 0  genuine
//	h%4 == 1  the command never arrives; the terminal gets the bytes
//	h%4 == 2  the device runs it; the terminal gets the bytes, which claim
//	          9000 if the device's answer did (a card that debited does not
//	          say it refused: a refusal means nothing happened)
//	h%4 == 3  a transport error; the device ran the command first if h&4
type script struct{ b []byte }

func (s *script) next([]byte) fate {
	if len(s.b) == 0 {
		return genuine
	}
	h := s.b[0]
	s.b = s.b[1:]
	switch h % 4 {
	case 0:
		return genuine
	case 1, 2:
		n := 0
		if len(s.b) > 0 {
			n = min(int(s.b[0])%48, len(s.b)-1)
			s.b = s.b[1:]
		}
		raw := append([]byte(nil), s.b[:n]...)
		s.b = s.b[n:]
		return fate{skip: h%4 == 1, replace: true, resp: raw, keepOK: h%4 == 2}
	}
	return fate{skip: h&4 == 0, replace: true, err: errors.New("fuzz: the card left the field")}
}

// Fuzz flows: what the fuzzed tap is.
const (
	flowPOS = iota
	flowFlat
	flowTapOff
	flowLoad
	flows
)

// FuzzValidatorCard drives a terminal against a card and a PSAM whose
// answers the fuzzer chooses, command by command, possibly after genuine
// answers up to DEBIT or CREDIT (see script). The terminal must never
// panic; if it sent DEBIT and did not get a refusal, the tap's grey or
// complete record must be spooled; and after the card's next tap (or
// load), answered genuinely, every debit and credit the card made here
// has its record spooled, complete or recovered.
func FuzzValidatorCard(f *testing.F) {
	base := newWorld(f, keys.Alg3DES)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		w := *base
		w.t, w.now = t, day0
		flow := int(data[0]) % flows
		sc := &script{b: data[1:]}
		c := w.newCard(card.ProfileCitizen, 30, 1)
		w.load(c, 5000)
		var term testTerminal
		switch flow {
		case flowPOS, flowLoad:
			term = w.terminal(ModePOS, 0, FlatFare{}, nil)
		case flowFlat:
			term = w.terminal(ModeFlat, 5, FlatFare{Fen: 200}, nil)
		case flowTapOff:
			on := w.terminal(ModeTapOn, 3, metroFare, nil)
			if _, err := on.Tap(c, 0); err != nil {
				t.Fatal(err)
			}
			w.now = w.now.Add(15 * time.Minute)
			term = w.terminal(ModeTapOff, 14, metroFare, nil)
		}
		psam := tamperPSAM(term)
		psam.decide = sc.next
		x := &tampered{dev: c, decide: sc.next}
		host := StoreHost{Store: w.store}

		var err error
		if flow == flowLoad {
			_, err = term.Load(x, 1000, host)
		} else {
			var r Result
			r, err = term.Tap(x, 120)
			if r.Grey && (r.Record.Status != record.StatusGrey || term.Greys() != 1) {
				t.Fatalf("grey result with record status %v, %d greys", r.Record.Status, term.Greys())
			}
			if err == nil && r.Record.Status != record.StatusComplete {
				t.Fatalf("tap succeeded with record status %v", r.Record.Status)
			}
		}
		pending := term.spool.pending(t)
		for _, d := range x.sent(insDebit) {
			if r, perr := apdu.ParseResponse(d.resp); d.err == nil && perr == nil && r.SW != apdu.SWOK {
				continue // refused: nothing happened on the card
			}
			seq, ok := debitSeq(d.cmd)
			if !ok {
				t.Fatalf("DEBIT % X carries no terminal sequence", d.cmd)
			}
			found := false
			for _, rec := range pending {
				found = found || rec.TerminalSeq == seq && rec.Type != citycard.TxLoad
			}
			if !found {
				t.Fatalf("DEBIT of terminal sequence %d sent (%v), answered % X (%v), and no record of it is spooled (tap: %v)", seq, flow, d.resp, d.err, err)
			}
		}

		// The card comes back at once, and everything answers genuinely.
		psam.decide = nil
		w.now = w.now.Add(30 * time.Second)
		if flow == flowLoad {
			_, err = term.Load(c, 500, host)
		} else {
			_, err = term.Tap(c, 120)
		}
		if err != nil {
			t.Fatalf("second, genuine %v: %v", flow, err)
		}
		pending = term.spool.pending(t)
		for _, e := range c.State().Log {
			if e.Terminal != term.ID() {
				continue
			}
			found := false
			for _, rec := range pending {
				found = found || rec.Type == e.Type && rec.Counter == e.Counter && rec.Amount == e.AmountFen &&
					(rec.Status == record.StatusComplete || rec.Status == record.StatusRecovered)
			}
			if !found {
				t.Fatalf("the card's transaction %+v here has no complete or recovered record in the spool", e)
			}
		}
	})
}
