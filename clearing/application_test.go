package clearing

import (
	"testing"

	"github.com/citycard/citycard/acquire"
	"github.com/citycard/citycard/registry"
)

// TestClearApplicationRecords: the application systems' non-financial
// records (acquire's "Non-financial records") are in the journal's range
// a cycle claims; they are taken, counted apart and cleared nowhere, and
// the purchase beside them clears as before.
func TestClearApplicationRecords(t *testing.T) {
	checkIn := item(our, "school", registry.TerminalGate, 1, 0)
	checkIn.Class = acquire.ClassApplication
	in := input(day1, 0, checkIn, item(our, "nb-bus", registry.TerminalBusValidator, 1, 200), checkIn)
	res, err := mustClearer(t, exampleConfig()).Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	if res.Applications.Count != 2 || res.Applications.AmountFen != 0 || res.Cleared.Count != 1 || res.Cleared.AmountFen != 200 {
		t.Fatalf("applications %+v, cleared %+v", res.Applications, res.Cleared)
	}
	for _, l := range res.Lines {
		if l.Operator == "school" {
			t.Fatalf("a line for the school's check-ins: %+v", l)
		}
	}
}
