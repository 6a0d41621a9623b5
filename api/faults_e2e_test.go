package api

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/blacklist"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/sqlite"
	"github.com/citycard/citycard/terminal"
)

// faults says which calls of the back office's stores fail, and how.
type faults struct {
	mu                          sync.Mutex
	lookup, batch, commit, last error
}

func (f *faults) get(p *error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *p
}

func (f *faults) set(lookup, batch, commit, last error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lookup, f.batch, f.commit, f.last = lookup, batch, commit, last
}

// faultyJournal is the SQLite journal with faults injected in front.
type faultyJournal struct {
	acquire.Journal
	f *faults
}

func (j faultyJournal) Batch(ctx context.Context, t citycard.TerminalID, id string) (acquire.StoredBatch, bool, error) {
	if err := j.f.get(&j.f.batch); err != nil {
		return acquire.StoredBatch{}, false, err
	}
	return j.Journal.Batch(ctx, t, id)
}

func (j faultyJournal) Commit(ctx context.Context, c *acquire.Commit) error {
	if err := j.f.get(&j.f.commit); err != nil {
		return err
	}
	return j.Journal.Commit(ctx, c)
}

func (j faultyJournal) LastPos(ctx context.Context) (int64, error) {
	if err := j.f.get(&j.f.last); err != nil {
		return 0, err
	}
	return j.Journal.LastPos(ctx)
}

// faultyRegistry is a registry whose look-ups fail on demand.
type faultyRegistry struct {
	acquire.TerminalMap
	f *faults
}

func (r faultyRegistry) Terminal(ctx context.Context, id citycard.TerminalID) (acquire.TerminalInfo, error) {
	if err := r.f.get(&r.f.lookup); err != nil {
		return acquire.TerminalInfo{}, err
	}
	return r.TerminalMap.Terminal(ctx, id)
}

// TestFaultsDropNothing: terminals upload their crash-safe queues over
// HTTP to a back office on SQLite whose registry and journal fail
// (errors, timeouts, a lost connection) at each call a batch makes. Each
// fault refuses the batch whole: the terminal gets no answer, keeps every
// record queued, and the journal holds nothing of it. Once the stores
// answer, the same queues upload and every genuine record is booked
// exactly once.
func TestFaultsDropNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	city, err := sim.NewCity(sim.Config{Seed: 21, Alg: keys.Alg3DES, Terminals: 3, Cards: 40})
	if err != nil {
		t.Fatal(err)
	}
	ups := city.Day(600, nil)
	db, err := sqlite.Open(ctx, "sqlite:"+filepath.Join(dir, "bo.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := &faults{}
	reg := faultyRegistry{TerminalMap: acquire.TerminalMap{}, f: f}
	toks := tokens{}
	for i, tm := range city.Terminals {
		reg.TerminalMap[tm.ID] = acquire.TerminalInfo{ID: tm.ID, PSAM: tm.PSAM, Operator: tm.Operator, OperatorCode: tm.OperatorCode, Active: true}
		toks[tm.ID] = fmt.Sprintf("token-%d", i)
	}
	acq, err := acquire.Open(ctx, acquire.Config{Journal: faultyJournal{db.Journal(), f}, Terminals: reg, Verifier: record.NewVerifier(city.Store, sim.Issuer)})
	if err != nil {
		t.Fatal(err)
	}
	defer acq.Close()
	srv := httptest.NewServer((&Server{Acquirer: acq, Terminals: toks, Blacklist: blacklist.New(nil, nil), Rejections: db.Journal(),
		Params: func() Parameters { return Parameters{} }}).Handler())
	defer srv.Close()

	type device struct {
		q  *terminal.Queue
		up *terminal.Uploader
		n  int
	}
	var devs []device
	var genuineFen int64
	for _, u := range ups {
		q, err := terminal.OpenQueue(filepath.Join(dir, u.Terminal.ID.String()+".queue"))
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		if _, err := q.AppendBatch(u.Records); err != nil {
			t.Fatal(err)
		}
		genuineFen += u.GenuineFen
		up := &terminal.Uploader{Terminal: u.Terminal.ID, Queue: q, MaxBatch: 50,
			Sender: &Client{BaseURL: srv.URL, Terminal: u.Terminal.ID, Token: toks[u.Terminal.ID]},
			Sleep:  func(context.Context, time.Duration) error { return nil }}
		devs = append(devs, device{q, up, len(u.Records)})
	}

	busy := errors.New("database is locked (SQLITE_BUSY)")
	timeout := fmt.Errorf("read tcp 127.0.0.1:5432: i/o timeout: %w", context.DeadlineExceeded)
	lost := errors.New("conn closed: unexpected EOF")
	for _, c := range []struct {
		name                        string
		lookup, batch, commit, last error
	}{
		{name: "registry busy", lookup: busy},
		{name: "registry timeout", lookup: timeout},
		{name: "registry storage fault", lookup: citycard.E("sqlite.Registry.Terminal", citycard.IO, "terminal: %w", lost)},
		{name: "journal look-up busy", batch: busy},
		{name: "journal look-up timeout", batch: timeout},
		{name: "commit busy", commit: busy},
		{name: "commit timeout", commit: timeout},
		{name: "commit and journal's end lost", commit: lost, last: lost},
	} {
		f.set(c.lookup, c.batch, c.commit, c.last)
		for i, d := range devs {
			st, err := d.up.Flush(ctx, 2)
			if !citycard.Transient(err) {
				t.Fatalf("%s: terminal %d: flush %v (%+v), want a transient refusal", c.name, i, err, st)
			}
			if d.q.Len() != d.n || st.Records != 0 {
				t.Fatalf("%s: terminal %d dropped records: %d left of %d, %d acked", c.name, i, d.q.Len(), d.n, st.Records)
			}
		}
		if last, err := db.Journal().LastPos(ctx); err != nil || last != 0 {
			t.Fatalf("%s: the journal holds %d entries (%v)", c.name, last, err)
		}
	}

	// The stores answer again: every queue empties, every genuine record
	// is booked once.
	f.set(nil, nil, nil, nil)
	for i, d := range devs {
		if _, err := d.up.Flush(ctx, 0); err != nil {
			t.Fatalf("terminal %d: %v", i, err)
		}
		if d.q.Len() != 0 {
			t.Fatalf("terminal %d: %d records left", i, d.q.Len())
		}
	}
	bal, err := db.Ledger().Balance(ctx, ledger.Account{Type: ledger.CardFloat, Party: sim.Issuer.String()})
	if err != nil || bal.NetFen() != genuineFen {
		t.Fatalf("float moved %d fen, the cards spent %d (%v)", bal.NetFen(), genuineFen, err)
	}
	if st := acq.Stats(); st.Refused == 0 || st.Duplicates != 0 {
		t.Fatalf("stats %+v: want refusals and no duplicate", st)
	}
}
