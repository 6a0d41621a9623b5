package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	crand "crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"flag"
	"math/big"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/api"
	"github.com/citycard/citycard/keys"
	"github.com/citycard/citycard/ledger"
	"github.com/citycard/citycard/postgres"
	"github.com/citycard/citycard/record"
	"github.com/citycard/citycard/registry"
	"github.com/citycard/citycard/sim"
	"github.com/citycard/citycard/terminal"
)

// TestMain lets a test run the binary's code as a child process: with
// CITYCARD_TEST_MAIN set, the test binary is citycard.
func TestMain(m *testing.M) {
	if os.Getenv("CITYCARD_TEST_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// backOffice is a citycard serve child process.
type backOffice struct {
	cmd    *exec.Cmd
	addr   string
	stderr *syncBuffer
}

// syncBuffer is a strings.Builder that a child's stderr writes to while a
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startServe(t *testing.T, env []string, args ...string) *backOffice {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), append(env, "CITYCARD_TEST_MAIN=1")...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("serve did not start: %v\n%s", err, stderr.String())
	}
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening on ")
	if !ok {
		t.Fatalf("serve said %q", line)
	}
	return &backOffice{cmd: cmd, addr: addr, stderr: stderr}
}

func (b *backOffice) kill(t *testing.T) {
	t.Helper()
	b.cmd.Process.Signal(syscall.SIGKILL)
	b.cmd.Wait()
}

func (b *backOffice) stop(t *testing.T) {
	t.Helper()
	b.cmd.Process.Signal(syscall.SIGTERM)
	if err := b.cmd.Wait(); err != nil {
		t.Fatalf("serve did not stop cleanly: %v", err)
	}
}

var killSeed = flag.Uint64("kill-seed", 0, "TestKillServeMidBatch: the seed of its kill moments (0: a fresh one, logged)")

// TestKillServeMidBatch kills citycard serve (kill -9) while terminals
// upload, again and again, at moments drawn from a seeded random source
// (the seed is logged: -kill-seed replays it), restarts it at once on the
// same store (the writer lock died with the killed server: nothing to
// wait out), and lets the terminals upload what they were not answered
// for: the books must be exactly as if nothing had happened. On SQLite,
// and on PostgreSQL when CITYCARD_TEST_POSTGRES is set.
func TestKillServeMidBatch(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	seed := *killSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("seed %d (replay with -kill-seed=%d)", seed, seed)
	t.Run("sqlite", func(t *testing.T) {
		killServeMidBatch(t, "sqlite:"+filepath.Join(t.TempDir(), "bo.db"), seed)
	})
	t.Run("postgres", func(t *testing.T) {
		killServeMidBatch(t, testPostgres(t, "citycard_kill_"), seed)
	})
}

// testPostgres returns the URL of a fresh schema on the server of
// CITYCARD_TEST_POSTGRES, dropped when the test ends; it skips the test
// without that variable.
func testPostgres(t *testing.T, prefix string) string {
	t.Helper()
	base := os.Getenv("CITYCARD_TEST_POSTGRES")
	if base == "" {
		t.Skip("CITYCARD_TEST_POSTGRES is not set")
	}
	url, drop, err := postgres.FreshSchema(context.Background(), base, prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return url
}

// killAfter is a terminal.Sender that calls kill once, when the whole
// fleet's n-th answer comes back: a moment in the middle of uploads,
// with other batches in flight.
type killAfter struct {
	terminal.Sender
	answers *atomic.Int64
	n       int64
	kill    func()
}

func (k killAfter) SendBatch(ctx context.Context, b terminal.UploadBatch) ([]bool, error) {
	answered, err := k.Sender.SendBatch(ctx, b)
	if err == nil && k.answers.Add(1) == k.n {
		k.kill()
	}
	return answered, err
}

func killServeMidBatch(t *testing.T, db string, seed uint64) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(seed, 0x6b696c6c))
	dir := t.TempDir()
	kekHex := make([]byte, 32)
	crand.Read(kekHex)
	kek := hex.EncodeToString(kekHex)
	env := []string{envKEK + "=" + kek}

	// The key store: our master keys, in the file serve reads.
	ks, err := keys.CreateFileStore(filepath.Join(dir, "keys.json"), kekHex, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	var nks []keys.NewKey
	refs := []keys.Ref{{Issuer: sim.OperatorCode(0), Type: keys.KeyRecord}, {Issuer: sim.OperatorCode(1), Type: keys.KeyRecord}}
	for _, typ := range keys.CardKeyTypes {
		refs = append(refs, keys.Ref{Issuer: sim.Issuer, Type: typ})
	}
	for _, ref := range refs {
		k := make([]byte, keys.KeyLen)
		crand.Read(k)
		nks = append(nks, keys.NewKey{Issuer: ref.Issuer, Type: ref.Type, Alg: keys.Alg3DES, Key: k, Origin: "test", Audit: keys.Audit{By: "test"}})
	}
	if _, err := ks.Add(nks...); err != nil {
		t.Fatal(err)
	}
	city, err := sim.NewCity(sim.Config{Seed: 3, Alg: keys.Alg3DES, Terminals: 12, Cards: 400, Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	ups := city.Day(60000, nil)
	sim.Spoil(ups, 0.02, 0.01, 9)

	// The registry.
	st, err := openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	reg := registry.New(st.registry, time.Now)
	if _, err := reg.AddParty(ctx, registry.Party{ID: sim.Issuer.String(), Type: registry.PartyIssuer, Code: sim.Issuer, Name: "ours", Own: true, SettlementAccount: "x"}); err != nil {
		t.Fatal(err)
	}
	for i, op := range city.Operators {
		if _, err := reg.AddParty(ctx, registry.Party{ID: op, Type: registry.PartyOperator, Code: city.OperatorCodes[i], Sector: registry.Sector(1), Name: op, SettlementAccount: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	tokens := make([]string, len(city.Terminals))
	for i, tm := range city.Terminals {
		if _, err := reg.AddTerminal(ctx, registry.Terminal{ID: tm.ID, PSAM: tm.PSAM, Operator: tm.Operator, Type: registry.TerminalType(1)}); err != nil {
			t.Fatal(err)
		}
		if tokens[i], err = reg.IssueCredential(ctx, tm.ID); err != nil {
			t.Fatal(err)
		}
	}
	st.close()

	// Each terminal's queue: its records, sent in batches by its uploader;
	// a record leaves the queue only when answered.
	type queue struct {
		mu   sync.Mutex
		recs [][]byte
		seqs []uint64
	}
	queues := make([]*queue, len(ups))
	for i, u := range ups {
		q := &queue{}
		for k, r := range u.Records {
			q.recs = append(q.recs, r)
			q.seqs = append(q.seqs, uint64(k+1))
		}
		queues[i] = q
	}
	pendingOf := func(q *queue) terminal.Pending { return &queuePending{q: &q.mu, recs: &q.recs, seqs: &q.seqs} }

	// upload flushes every terminal's queue to addr until it is empty or
	// an attempt fails; with kill, it calls kill once when the fleet's
	// killAt-th answer is in.
	upload := func(addr string, budget time.Duration, killAt int64, kill func()) (left int) {
		ctx, cancel := context.WithTimeout(ctx, budget)
		defer cancel()
		var answers atomic.Int64
		var once sync.Once
		var wg sync.WaitGroup
		for i := range ups {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var send terminal.Sender = &api.Client{BaseURL: "http://" + addr, Terminal: ups[i].Terminal.ID, Token: tokens[i]}
				if kill != nil {
					send = killAfter{Sender: send, answers: &answers, n: killAt, kill: func() { once.Do(kill) }}
				}
				u := &terminal.Uploader{
					Terminal: ups[i].Terminal.ID, Queue: pendingOf(queues[i]), MaxBatch: 300, Sender: send,
					Sleep: func(ctx context.Context, d time.Duration) error { return nil },
				}
				if _, err := u.Flush(ctx, 1); err != nil && i == 0 {
					t.Logf("terminal 0: %v", err)
				}
			}()
		}
		wg.Wait()
		if kill != nil {
			once.Do(kill) // every batch was answered before the moment came
		}
		for _, q := range queues {
			q.mu.Lock()
			left += len(q.recs)
			q.mu.Unlock()
		}
		return left
	}

	for round := 0; round < 5; round++ {
		// Started at once after the last kill: the lock died with it.
		bo := startServe(t, env, "--db", db, "--store", filepath.Join(dir, "keys.json"), "--addr", "127.0.0.1:0")
		killAt := 1 + rng.Int64N(25) // of about 200 batches in all
		left := upload(bo.addr, 20*time.Second, killAt, func() { bo.kill(t) })
		t.Logf("round %d: killed after answer %d, %d records unanswered", round, killAt, left)
	}
	// The last start also loads the sample fare table, as a city would.
	bo := startServe(t, env, "--db", db, "--store", filepath.Join(dir, "keys.json"), "--addr", "127.0.0.1:0", "--fares", "../../fare/testdata/ningbo")
	if left := upload(bo.addr, 60*time.Second, 0, nil); left != 0 {
		bo.kill(t)
		t.Fatalf("%d records never answered", left)
	}
	bo.stop(t)

	// The books, as if nothing had happened.
	st, err = openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	var genuineFen int64
	payable := map[string]int64{}
	genuine := 0
	for _, u := range ups {
		genuineFen += u.GenuineFen
		payable[u.Terminal.Operator] += u.GenuineFen
		genuine += u.Genuine
	}
	rep, err := ledger.Verify(ctx, st.ledger)
	if err != nil || rep.Broken != nil {
		t.Fatalf("ledger verify: %v %v", err, rep.Broken)
	}
	bal, _ := st.ledger.Balance(ctx, ledger.Account{Type: ledger.CardFloat, Party: sim.Issuer.String()})
	if bal.NetFen() != genuineFen {
		t.Fatalf("card float moved %d, genuine records spent %d", bal.NetFen(), genuineFen)
	}
	for op, want := range payable {
		b, _ := st.ledger.Balance(ctx, ledger.Account{Type: ledger.OperatorPayable, Party: op})
		if -b.NetFen() != want {
			t.Fatalf("%s is owed %d, want %d", op, -b.NetFen(), want)
		}
	}
	booked := 0
	err = st.journal.Replay(ctx, 0, func(e *acquire.Journaled) error {
		if e.Class == acquire.ClassBooked {
			booked++
		}
		return nil
	})
	if err != nil || booked != genuine {
		t.Fatalf("journal: %d booked, %d genuine (%v)", booked, genuine, err)
	}
	// And the state serve rebuilds from it agrees with a fresh replay.
	acq, err := acquire.Open(ctx, acquire.Config{Journal: st.journal, Terminals: terminalsOf(st.registry), Verifier: record.NewVerifier(ks, sim.Issuer)})
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	acq.Close()
}

// queuePending is a terminal.Pending over a slice, for the kill test.
type queuePending struct {
	q    *sync.Mutex
	recs *[][]byte
	seqs *[]uint64
}

func (p *queuePending) Pending(n int) []terminal.Queued {
	p.q.Lock()
	defer p.q.Unlock()
	out := make([]terminal.Queued, 0, min(n, len(*p.recs)))
	for i := 0; i < len(*p.recs) && i < n; i++ {
		out = append(out, terminal.Queued{Seq: (*p.seqs)[i], Data: (*p.recs)[i]})
	}
	return out
}

// Epoch implements terminal.Pending: each terminal has one queue for the
// test's whole life.
func (p *queuePending) Epoch() uint64 { return 1 }

func (p *queuePending) Ack(seqs ...uint64) error {
	p.q.Lock()
	defer p.q.Unlock()
	drop := map[uint64]bool{}
	for _, s := range seqs {
		drop[s] = true
	}
	var recs [][]byte
	var ss []uint64
	for i, s := range *p.seqs {
		if !drop[s] {
			recs = append(recs, (*p.recs)[i])
			ss = append(ss, s)
		}
	}
	*p.recs, *p.seqs = recs, ss
	return nil
}

// TestServeOneWriter: while a server runs, a second one on the same store
// refuses to start, at once, with a message that names the holder of the
// writer lock; the first keeps serving; once it stops, a new one starts.
// On SQLite, and on PostgreSQL when CITYCARD_TEST_POSTGRES is set.
func TestServeOneWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Run("sqlite", func(t *testing.T) { serveOneWriter(t, "sqlite:"+filepath.Join(t.TempDir(), "bo.db")) })
	t.Run("postgres", func(t *testing.T) { serveOneWriter(t, testPostgres(t, "citycard_writer_")) })
}

func serveOneWriter(t *testing.T, db string) {
	b := newBackOfficeFiles(t, db)
	env := b.env()
	args := []string{"--db", db, "--store", b.store, "--addr", "127.0.0.1:0"}

	first := startServe(t, env, args...)
	defer first.kill(t) // if the test fails before it stops it
	cmd := exec.Command(os.Args[0], append([]string{"serve"}, args...)...)
	cmd.Env = append(os.Environ(), append(env, "CITYCARD_TEST_MAIN=1")...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("the second server: %v, want exit status 1\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second): // a bound on a failure, not a wait for time
		cmd.Process.Kill()
		<-done
		t.Fatalf("the second server did not refuse at once\nstdout: %s\nstderr: %s", stdout.String(), stderr.String())
	}
	msg := stderr.String()
	t.Logf("the second server said: %s", msg)
	for _, want := range []string{"serve: not starting", "holds the writer lock", "pid " + strconv.Itoa(first.cmd.Process.Pid), "one writer per store"} {
		if !strings.Contains(msg, want) {
			t.Errorf("the second server's message does not say %q", want)
		}
	}
	if strings.Contains(stdout.String(), "listening") {
		t.Errorf("the second server listened: %s", stdout.String())
	}
	resp, err := http.Get("http://" + first.addr + "/healthz")
	if err != nil {
		t.Fatalf("the first server, after the second's attempt: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the first server's health after the second's attempt: %s", resp.Status)
	}
	first.stop(t)
	next := startServe(t, env, args...)
	next.stop(t)
}

// TestServeLosesWriterLock: a server whose lock session ends under it
// (a PostgreSQL restart, an administrator) stops, non-zero, saying why:
// another server may hold the lock by then.
func TestServeLosesWriterLock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	ctx := context.Background()
	db := testPostgres(t, "citycard_lost_")
	b := newBackOfficeFiles(t, db)
	bo := startServe(t, b.env(), "--db", db, "--store", b.store, "--addr", "127.0.0.1:0")
	defer bo.kill(t)
	admin, err := postgres.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	app := "citycard writer pid " + strconv.Itoa(bo.cmd.Process.Pid) + "%"
	if err := admin.Exec(ctx, `SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE application_name LIKE $1`, app); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- bo.cmd.Wait() }()
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 1 {
			t.Fatalf("serve after losing its lock: %v, want exit status 1", err)
		}
	case <-time.After(30 * time.Second): // a bound on a failure, not a wait for time
		t.Fatal("serve kept running without its writer lock")
	}
	msg := bo.stderr.String()
	t.Logf("serve said: %s", msg)
	if !strings.Contains(msg, "lost the writer lock") || !strings.Contains(msg, "session ended") {
		t.Errorf("serve's last words do not say it lost its lock:\n%s", msg)
	}
}

// TestServeTLS: with a certificate, serve speaks HTTPS only.
func TestServeTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a process")
	}
	b := newBackOfficeFiles(t, "")
	dir := b.dir

	// A self-signed certificate for 127.0.0.1.
	priv, err := ecdsa.GenerateKey(elliptic.P256(), crand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "citycard test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(crand.Reader, tmpl, tmpl, &priv.PublicKey, priv)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0o600)

	bo := startServe(t, b.env(), "--db", b.db, "--store", b.store,
		"--addr", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile)
	defer bo.stop(t)
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := c.Get("https://" + bo.addr + "/healthz")
	if err != nil {
		t.Fatalf("HTTPS: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("HTTPS healthz: %s", resp.Status)
	}
	if resp, err := http.Get("http://" + bo.addr + "/healthz"); err == nil && resp.StatusCode == http.StatusOK {
		t.Fatal("plain HTTP answered on the TLS port")
	}
}
