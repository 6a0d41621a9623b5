package exchange

import (
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/clearing"
)

// TestCheckKept: files made again are checked against what the close
// kept (clearing.FileOf: name, SHA-256, size); a file whose bytes differ
// is a Conflict naming it.
func TestCheckKept(t *testing.T) {
	fs := []SettlementFile{{"a.csv", []byte("party,net_fen\nbus,100\n")}, {"b.xml", []byte("<x/>")}}
	s := &clearing.Stored{Files: Kept(fs)}
	if s.Files[0].Size != int64(len(fs[0].Data)) || len(s.Files[1].SHA256) != 64 {
		t.Fatalf("kept %+v", s.Files)
	}
	if err := CheckKept(s, fs); err != nil {
		t.Fatalf("the same files: %v", err)
	}
	again := []SettlementFile{fs[0], {"b.xml", []byte("<y/>")}}
	err := CheckKept(s, again)
	if !citycard.IsKind(err, citycard.Conflict) || !strings.Contains(err.Error(), "b.xml") {
		t.Fatalf("a changed file: %v, want Conflict naming b.xml", err)
	}
}
