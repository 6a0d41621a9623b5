package keys_test

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/keys"
)

// The vectors of testdata/vectors.json are computed by
// testdata/genvectors.sh with openssl, independently of this package.

type vectorKeys struct {
	Purchase string `json:"purchase"`
	Load     string `json:"load"`
	TAC      string `json:"tac"`
}

type vectorPurchase struct {
	Random         string  `json:"random"`
	OfflineCounter *uint16 `json:"offline_counter"`
	TerminalSeq    *uint32 `json:"terminal_seq"`
	Amount         *uint32 `json:"amount"`
	Type           string  `json:"type"`
	TerminalID     string  `json:"terminal_id"`
	Date           string  `json:"date"`
	Time           string  `json:"time"`
	SessionKey     string  `json:"session_key"`
	MAC1           string  `json:"mac1"`
	MAC2           string  `json:"mac2"`
	TAC            string  `json:"tac"`
}

type vectorLoad struct {
	Random        string  `json:"random"`
	OnlineCounter *uint16 `json:"online_counter"`
	BalanceBefore *uint32 `json:"balance_before"`
	Amount        *uint32 `json:"amount"`
	Type          string  `json:"type"`
	TerminalID    string  `json:"terminal_id"`
	Date          string  `json:"date"`
	Time          string  `json:"time"`
	SessionKey    string  `json:"session_key"`
	MAC1          string  `json:"mac1"`
	MAC2          string  `json:"mac2"`
	TAC           string  `json:"tac"`
}

type vector struct {
	Name       string          `json:"name"`
	Alg        string          `json:"alg"`
	ASN        string          `json:"asn"`
	MasterKeys vectorKeys      `json:"master_keys"`
	CardKeys   vectorKeys      `json:"card_keys"`
	Purchase   *vectorPurchase `json:"purchase"`
	Load       *vectorLoad     `json:"load"`
}

// vectorChecker decodes the fields of one vector and reports every
// mismatch under the vector's name and the field's path.
type vectorChecker struct {
	t    *testing.T
	name string
}

// hex decodes field's value, which must be n bytes long (any length when n
// is 0); it fails the test and returns nil when it cannot.
func (c vectorChecker) hex(field, s string, n int) []byte {
	c.t.Helper()
	if s == "" {
		c.t.Errorf("vector %s: %s: missing", c.name, field)
		return nil
	}
	b, err := hex.DecodeString(s)
	if err != nil {
		c.t.Errorf("vector %s: %s: %v", c.name, field, err)
		return nil
	}
	if n > 0 && len(b) != n {
		c.t.Errorf("vector %s: %s: %d bytes, want %d", c.name, field, len(b), n)
		return nil
	}
	return b
}

func (c vectorChecker) eq(field string, got, want []byte) {
	c.t.Helper()
	if want == nil {
		return // already reported as undecodable
	}
	if !bytes.Equal(got, want) {
		c.t.Errorf("vector %s: %s = %X, openssl says %X", c.name, field, got, want)
	}
}

func (c vectorChecker) num(field string, p any) bool {
	c.t.Helper()
	switch v := p.(type) {
	case *uint16:
		if v != nil {
			return true
		}
	case *uint32:
		if v != nil {
			return true
		}
	}
	c.t.Errorf("vector %s: %s: missing", c.name, field)
	return false
}

func readVectors(t *testing.T) []vector {
	t.Helper()
	path := filepath.Join("testdata", "vectors.json")
	if p := os.Getenv("CITYCARD_VECTORS"); p != "" {
		path = p
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("vectors: %v", err)
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields() // a misspelt field would go unchecked
	var vs []vector
	if err := dec.Decode(&vs); err != nil {
		t.Fatalf("vectors: %s: %v", path, err)
	}
	if len(vs) == 0 {
		t.Fatalf("vectors: %s holds no vector", path)
	}
	return vs
}

func TestVectors(t *testing.T) {
	vs := readVectors(t)
	names := map[string]bool{}
	for i, v := range vs {
		if v.Name == "" {
			v.Name = fmt.Sprintf("#%d", i)
		}
		if names[v.Name] {
			t.Errorf("vector %s: name used twice", v.Name)
		}
		names[v.Name] = true
		checkVector(t, v)
	}
	t.Logf("vectors: %d checked", len(vs))
}

func checkVector(t *testing.T, v vector) {
	t.Helper()
	c := vectorChecker{t: t, name: v.Name}
	alg, err := keys.ParseAlg(v.Alg)
	if err != nil {
		t.Errorf("vector %s: alg: %v", v.Name, err)
		return
	}
	asn, err := citycard.ParseASN(v.ASN)
	if err != nil {
		t.Errorf("vector %s: asn: %v", v.Name, err)
		return
	}

	// Card keys: each diversified from its master key by the ASN.
	type pair struct {
		name         string
		master, card string
	}
	cardKeys := map[string][]byte{}
	for _, p := range []pair{
		{"purchase", v.MasterKeys.Purchase, v.CardKeys.Purchase},
		{"load", v.MasterKeys.Load, v.CardKeys.Load},
		{"tac", v.MasterKeys.TAC, v.CardKeys.TAC},
	} {
		mk := c.hex("master_keys."+p.name, p.master, keys.KeyLen)
		want := c.hex("card_keys."+p.name, p.card, keys.KeyLen)
		cardKeys[p.name] = want
		if mk == nil {
			continue
		}
		got, err := keys.Diversify(alg, mk, asn.Div())
		if err != nil {
			t.Errorf("vector %s: card_keys.%s: %v", v.Name, p.name, err)
			continue
		}
		c.eq("card_keys."+p.name, got, want)
	}
	// The session keys and MACs start from openssl's card keys, so that a
	// wrong diversification is reported once, not once per field.
	dpk, dlk, dtk := cardKeys["purchase"], cardKeys["load"], cardKeys["tac"]
	sessionLen := 8
	if alg == keys.AlgSM4 {
		sessionLen = 16
	}

	if v.Purchase == nil {
		t.Errorf("vector %s: purchase: missing", v.Name)
	} else if dpk != nil && dtk != nil {
		vp := v.Purchase
		var p keys.Purchase
		ok := c.num("purchase.offline_counter", vp.OfflineCounter) &&
			c.num("purchase.terminal_seq", vp.TerminalSeq) &&
			c.num("purchase.amount", vp.Amount)
		if !ok || !c.fill("purchase", vp.Random, vp.Type, vp.TerminalID, vp.Date, vp.Time, &p.Random, &p.Type, &p.TerminalID, &p.Date, &p.Time) {
			return
		}
		p.OfflineCounter, p.TerminalSeq, p.Amount = *vp.OfflineCounter, *vp.TerminalSeq, *vp.Amount
		sk, err := keys.SessionKey(alg, dpk, keys.PurchaseSessionInput(p.Random, p.OfflineCounter, p.TerminalSeq))
		if err != nil {
			t.Errorf("vector %s: purchase.session_key: %v", v.Name, err)
		}
		c.eq("purchase.session_key", sk, c.hex("purchase.session_key", vp.SessionKey, sessionLen))
		pr, err := keys.PurchaseProof(alg, dpk, dtk, &p)
		if err != nil {
			t.Errorf("vector %s: purchase: PurchaseProof: %v", v.Name, err)
		} else {
			c.eq("purchase.session_key (PurchaseProof)", pr.SessionKey, sk)
			c.eq("purchase.mac1", pr.MAC1[:], c.hex("purchase.mac1", vp.MAC1, 4))
			c.eq("purchase.mac2", pr.MAC2[:], c.hex("purchase.mac2", vp.MAC2, 4))
			c.eq("purchase.tac", pr.TAC[:], c.hex("purchase.tac", vp.TAC, 4))
		}
	}

	if v.Load == nil {
		t.Errorf("vector %s: load: missing", v.Name)
	} else if dlk != nil && dtk != nil {
		vl := v.Load
		var l keys.Load
		ok := c.num("load.online_counter", vl.OnlineCounter) &&
			c.num("load.balance_before", vl.BalanceBefore) &&
			c.num("load.amount", vl.Amount)
		if !ok || !c.fill("load", vl.Random, vl.Type, vl.TerminalID, vl.Date, vl.Time, &l.Random, &l.Type, &l.TerminalID, &l.Date, &l.Time) {
			return
		}
		l.OnlineCounter, l.BalanceBefore, l.Amount = *vl.OnlineCounter, *vl.BalanceBefore, *vl.Amount
		sk, err := keys.SessionKey(alg, dlk, keys.LoadSessionInput(l.Random, l.OnlineCounter))
		if err != nil {
			t.Errorf("vector %s: load.session_key: %v", v.Name, err)
		}
		c.eq("load.session_key", sk, c.hex("load.session_key", vl.SessionKey, sessionLen))
		pr, err := keys.LoadProof(alg, dlk, dtk, &l)
		if err != nil {
			t.Errorf("vector %s: load: LoadProof: %v", v.Name, err)
		} else {
			c.eq("load.session_key (LoadProof)", pr.SessionKey, sk)
			c.eq("load.mac1", pr.MAC1[:], c.hex("load.mac1", vl.MAC1, 4))
			c.eq("load.mac2", pr.MAC2[:], c.hex("load.mac2", vl.MAC2, 4))
			c.eq("load.tac", pr.TAC[:], c.hex("load.tac", vl.TAC, 4))
		}
	}
}

// fill decodes the fixed-length fields a purchase and a load share.
func (c vectorChecker) fill(prefix, random, typ, tid, date, tm string,
	dRandom *[4]byte, dType *byte, dTID *citycard.TerminalID, dDate *citycard.BCDDate, dTime *citycard.BCDTime) bool {
	c.t.Helper()
	fields := []struct {
		name string
		s    string
		dst  []byte
	}{
		{"random", random, dRandom[:]},
		{"type", typ, []byte{0}},
		{"terminal_id", tid, dTID[:]},
		{"date", date, dDate[:]},
		{"time", tm, dTime[:]},
	}
	ok := true
	for i, f := range fields {
		b := c.hex(prefix+"."+f.name, f.s, len(f.dst))
		if b == nil {
			ok = false
			continue
		}
		copy(f.dst, b)
		if i == 1 {
			*dType = b[0]
		}
	}
	return ok
}
