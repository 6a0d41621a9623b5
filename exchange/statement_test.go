package exchange

import (
	"bytes"
	"testing"

	"github.com/citycard/citycard/clearing"
)

// TestStatementFiles: a statement's CSV and report (the issue:
// "per-party statements (CSV and a readable report: records, gross,
// fees, net, by line, terminal and day)"; "every figure in a statement
// drills down to the records behind it"), golden and the same bytes on
// every run.
func TestStatementFiles(t *testing.T) {
	recs := []clearing.StatementRecord{
		{Pos: 3, Line: 12, Terminal: "315001000001", Day: "20261201", Issuer: "31500001FFFFFFFF", ASN: "00000000000000000001", Counter: 7, Seq: 41, AmountFen: 200, FeeFen: 1, Rule: "bus", TAC: "0a1b2c3d"},
		{Pos: 9, Line: 3, Terminal: "315001000002", Day: "20261130", Issuer: "31500002FFFFFFFF", ASN: "00000000000000000002", Counter: 1, Seq: 5, AmountFen: 150, Rule: "none", TAC: "deadbeef"},
		{Pos: 10, Line: 12, Terminal: "315001000001", Day: "20261201", Issuer: "31500001FFFFFFFF", ASN: "00000000000000000003", Counter: 2, Seq: 42, AmountFen: 99, FeeFen: 1, Rule: "bus", TAC: "01020304"},
	}
	row := func(k string, rs ...int) clearing.StatementRow {
		r := clearing.StatementRow{Key: k}
		for _, i := range rs {
			r.Records++
			r.GrossFen += recs[i].AmountFen
			r.FeeFen += recs[i].FeeFen
			r.NetFen += recs[i].AmountFen - recs[i].FeeFen
		}
		return r
	}
	st := clearing.Statement{Party: "nb-bus", Day: clearing.DayOf(2026, 12, 1), Total: row("total", 0, 1, 2),
		Lines: []clearing.StatementRow{row("3", 1), row("12", 0, 2)}, Terminals: []clearing.StatementRow{row("315001000001", 0, 2), row("315001000002", 1)},
		Days: []clearing.StatementRow{row("20261130", 1), row("20261201", 0, 2)}, Records: recs,
		RoundingFen: 1, Adjustments: []clearing.StatementRow{{Key: "fix-1", NetFen: -100}}, PositionFen: 447 - 1 - 100}
	fs, err := StatementFiles([]clearing.Statement{st})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 2 || fs[0].Name != "CCLR-20261201-statement-nb-bus.csv" || fs[1].Name != "CCLR-20261201-statement-nb-bus.txt" {
		t.Fatalf("files %v", fs)
	}
	golden(t, "statement.csv", fs[0].Data)
	golden(t, "statement.txt", fs[1].Data)
	again, _ := StatementFiles([]clearing.Statement{st})
	if !bytes.Equal(again[0].Data, fs[0].Data) || !bytes.Equal(again[1].Data, fs[1].Data) {
		t.Error("a second run wrote other bytes")
	}
}
