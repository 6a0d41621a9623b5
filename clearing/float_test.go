package clearing

import "testing"

// TestReconcileFloat puts each of the three figures off in turn (issue
// 10, "Card float": "reconciled three ways"; the package doc's "Card
// float"): the report names the one that disagrees and its difference.
func TestReconcileFloat(t *testing.T) {
	const fen = 123456
	tests := []struct {
		name                 string
		f                    FloatFigures
		off                  string
		shadowDiff, bookDiff int64
	}{
		{"all agree", FloatFigures{"own", fen, fen, fen, true}, "", 0, 0},
		{"ledger off", FloatFigures{"own", fen - 1, fen, fen, true}, "ledger", 1, 1},
		{"shadows off", FloatFigures{"own", fen, fen + 500, fen, true}, "shadows", 500, 0},
		{"book off", FloatFigures{"own", fen, fen, fen - 200, true}, "book", 0, -200},
		{"none agree", FloatFigures{"own", 1, 2, 3, true}, "all", 1, 2},
		{"no book, agree", FloatFigures{"other", -fen, -fen, 0, false}, "", 0, 0},
		{"no book, off", FloatFigures{"other", -fen, -fen + 1, 0, false}, "ledger or shadows", 1, 0},
		{"zero float", FloatFigures{"own", 0, 0, 0, true}, "", 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := ReconcileFloat([]FloatFigures{tt.f})
			if len(rep.Lines) != 1 {
				t.Fatalf("lines %d, want 1", len(rep.Lines))
			}
			l := rep.Lines[0]
			if l.Off != tt.off || l.ShadowDiffFen != tt.shadowDiff || l.BookDiffFen != tt.bookDiff {
				t.Errorf("off %q, shadow diff %d, book diff %d; want %q, %d, %d", l.Off, l.ShadowDiffFen, l.BookDiffFen, tt.off, tt.shadowDiff, tt.bookDiff)
			}
			if rep.Sound != (tt.off == "") {
				t.Errorf("sound %v with off %q", rep.Sound, tt.off)
			}
		})
	}
}

// TestReconcileFloatOrder: one unsound issuer makes the report unsound,
// and lines come in issuer order whatever the order given.
func TestReconcileFloatOrder(t *testing.T) {
	rep := ReconcileFloat([]FloatFigures{{Issuer: "b", LedgerFen: 1, ShadowFen: 2}, {Issuer: "a", LedgerFen: 5, ShadowFen: 5, BookFen: 5, HasBook: true}})
	if rep.Sound || rep.Lines[0].Issuer != "a" || rep.Lines[1].Issuer != "b" || rep.Lines[0].Off != "" || rep.Lines[1].Off == "" {
		t.Errorf("report %+v", rep)
	}
}
