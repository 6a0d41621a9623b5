package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/interop"
)

// closeCLI runs, approves (two people) and closes day's cycle through the
// CLI.
func closeCLI(t *testing.T, db, day string) {
	t.Helper()
	for _, args := range [][]string{{"run", "--by", "carl"}, {"approve", "--by", "ann"}, {"approve", "--by", "bob"}, {"close", "--by", "dora"}} {
		if _, _, err := runCLI(t, append([]string{"clear", args[0], "--date", day, "--db", db}, args[1:]...)...); err != nil {
			t.Fatalf("clear %s: %v", args[0], err)
		}
	}
}

// TestInteropCLI: the issue's `citycard interop export|import FILE`
// over the store, as staff would run them: a closed day's OUT file
// exported (the same bytes twice), the centre's answer imported (a
// corrupt copy refused first, naming its line and field, nothing
// imported; the same file twice a no-op), and the next day's cycle paying
// the accepted records by their issuers.
func TestInteropCLI(t *testing.T) {
	db := clearDB(t, 4000)
	day := clearTestDay.String()
	dir := t.TempDir()
	outFile := filepath.Join(dir, "out.txt")
	if _, _, err := runCLI(t, "interop", "export", "--date", day, "--db", db, "--out", outFile); !citycard.IsKind(err, citycard.NotFound) {
		t.Fatalf("export of a day never run: %v, want NotFound", err)
	}
	closeCLI(t, db, day)
	if _, _, err := runCLI(t, "interop", "export", "--date", day, "--db", db); err == nil || !strings.Contains(err.Error(), "--out") {
		t.Fatalf("export without --out: %v", err)
	}
	if _, _, err := runCLI(t, "interop", "export", "--date", day, "--db", db, "--out", outFile, "--json"); err != nil {
		t.Fatal(err)
	}
	first, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "interop", "export", "--date", day, "--db", db, "--out", outFile); err != nil {
		t.Fatal(err)
	}
	if again, _ := os.ReadFile(outFile); string(again) != string(first) {
		t.Fatal("the OUT file exported again is other bytes")
	}
	out, err := interop.Decode("out", first)
	if err != nil || len(out.Clearing) == 0 {
		t.Fatalf("the OUT file: %v, %d records", err, len(out.Clearing))
	}
	// The centre's answer: every record accepted but the first.
	ans := &interop.File{Header: interop.Header{Type: interop.FileAnswer, ID: "ANS-CENTRE-1", Sender: interop.Centre, Receiver: out.Header.Sender,
		Day: out.Header.Day, Created: out.Header.Created.Add(time.Hour), Refers: out.Header.ID}}
	var acceptedFen int64
	for i, c := range out.Clearing {
		a := interop.Answer{RefSeq: i + 1, Accepted: i > 0, Issuer: c.Issuer, ASN: c.ASN, Counter: c.Counter, AmountFen: c.AmountFen}
		if i == 0 {
			a.Reason = interop.ReasonTAC
		} else {
			acceptedFen += int64(c.AmountFen)
		}
		ans.Answers = append(ans.Answers, a)
	}
	b, err := interop.Encode(ans)
	if err != nil {
		t.Fatal(err)
	}
	ansFile := filepath.Join(dir, "ans.txt")
	if err := os.WriteFile(ansFile, b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := runCLI(t, "interop", "import", ansFile, "--db", db); err == nil || !strings.Contains(err.Error(), "field") || !citycard.IsKind(err, citycard.Invalid) {
		t.Fatalf("a truncated answer: %v, want its line and field", err)
	}
	if o, _, err := runCLI(t, "interop", "files", "--db", db, "--json"); err != nil || strings.Contains(o, "ANS-CENTRE-1") {
		t.Fatalf("after the refusal: %v\n%s", err, o)
	}
	if err := os.WriteFile(ansFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
	o, _, err := runCLI(t, "interop", "import", ansFile, "--db", db, "--json")
	var imp jsonImported
	if err != nil || json.Unmarshal([]byte(o), &imp) != nil || imp.Already || imp.Accepted.Count != int64(len(out.Clearing)-1) || imp.Accepted.AmountFen != acceptedFen || imp.Rejected.Count != 1 {
		t.Fatalf("import: %v %+v\n%s", err, imp, o)
	}
	if o, _, err := runCLI(t, "interop", "import", ansFile, "--db", db); err != nil || !strings.Contains(o, "nothing changed") {
		t.Fatalf("import again: %v\n%s", err, o)
	}
	if o, _, err := runCLI(t, "interop", "records", out.Header.ID, "--db", db); err != nil || !strings.Contains(o, "rejected  tac") {
		t.Fatalf("records: %v\n%s", err, o)
	}
	// Our error cases of the day (none raised: a file of none), and a type
	// we do not send.
	errFile := filepath.Join(dir, "err.txt")
	if _, _, err := runCLI(t, "interop", "export", "--type", "ERR", "--date", day, "--db", db, "--out", errFile); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(errFile); err != nil {
		t.Fatal(err)
	} else if f, err := interop.Decode("err", b); err != nil || f.Header.Type != interop.FileError || f.Header.Records != 0 || f.Header.Sender != out.Header.Sender {
		t.Fatalf("our ERR file of a day without cases: %+v %v", f, err)
	}
	if _, _, err := runCLI(t, "interop", "export", "--type", "BLK", "--date", day, "--db", db, "--out", errFile); !errors.Is(err, errUsage) {
		t.Errorf("export --type BLK: %v, want a usage error", err)
	}
	next := clearTestDay.Next().String()
	closeCLI(t, db, next)
	jc := showJSON(t, db, clearTestDay.Next())
	if got := jc.Totals["interop_accepted"]; got.Count != imp.Accepted.Count || got.AmountFen != acceptedFen || jc.Totals["interop_rejected"].Count != 1 {
		t.Errorf("day 2's totals: %+v", jc.Totals)
	}
	var sum, issuers int64
	for _, p := range jc.Positions {
		sum += p.NetFen
		if strings.HasPrefix(p.Party, "2100") || strings.HasPrefix(p.Party, "1000") || strings.HasPrefix(p.Party, "4403") {
			issuers += p.NetFen
		}
	}
	if sum != 0 || issuers != -acceptedFen {
		t.Errorf("day 2's positions sum to %d, the other cities' issuers' to %d; want 0 and -%d", sum, issuers, acceptedFen)
	}
	o, _, err = runCLI(t, "interop", "files", "--db", db, "--json")
	var files []interop.FileView
	if err != nil || json.Unmarshal([]byte(o), &files) != nil || len(files) != 3 || files[1].ID != "ANS-CENTRE-1" || files[2].Type != "ERR" || files[1].TakenBy != next || files[0].Direction != "sent" {
		t.Fatalf("files: %v\n%s", err, o)
	}
	if o, _, err := runCLI(t, "interop", "show", out.Header.ID, "--db", db); err != nil || o != string(first) {
		t.Errorf("show: %v", err)
	}
}
