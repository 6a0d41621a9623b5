package recon

import (
	"testing"

	"github.com/citycard/citycard"
)

// row is one stored row, as a Scanner: its values in column order.
type row []any

func (r row) Scan(dest ...any) error {
	for i, d := range dest {
		switch d := d.(type) {
		case *string:
			*d = r[i].(string)
		case *int64:
			*d = r[i].(int64)
		case **int64:
			*d, _ = r[i].(*int64)
		}
	}
	return nil
}

// An instruction's row reads back with its direction; one of no known
// direction is refused, kind Invalid.
func TestScanInstruction(t *testing.T) {
	in := InstructionsOf(settlement(1))[0]
	in.Direction = Credit
	args := append(InstructionArgs(&in), (*int64)(nil))
	got, err := ScanInstruction(row(args))
	if err != nil || got != in {
		t.Fatalf("read back: %+v, %v; want %+v", got, err, in)
	}
	args[9] = "OUT"
	if _, err := ScanInstruction(row(args)); !citycard.IsKind(err, citycard.Invalid) {
		t.Errorf("direction OUT: %v, want kind Invalid", err)
	}
}
