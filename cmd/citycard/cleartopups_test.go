package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/citycard/citycard/clearing"
)

// clear show names what each payer of remote top-ups owes, for a person
// and in the JSON.
func TestShowCycleTopUps(t *testing.T) {
	res := &clearing.Result{Day: clearing.DayOf(2026, 12, 1), TopUpsPaid: clearing.Totals{Count: 2, AmountFen: 7000}, TopUpsRefunded: clearing.Totals{Count: 1, AmountFen: 1500},
		TopUps: []clearing.TopUpLine{{Payer: "alipay", Issuer: "31500001FFFFFFFF", Rule: "alipay", Paid: 2, PaidFen: 7000, Refunded: 1, RefundedFen: 1500, CommissionFen: 16}}}
	s := &clearing.Stored{Cycle: clearing.Cycle{Day: res.Day, State: clearing.Computed}, Result: res}
	var text bytes.Buffer
	if err := showCycle(&text, s, false); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "top-ups: alipay owes 31500001FFFFFFFF 55.00 CNY for 2 remote top-ups of 70.00 CNY less 1 refunded of 15.00 CNY, and earns 0.16 CNY") ||
		!strings.Contains(text.String(), "top_ups_refunded  1, 15.00 CNY") {
		t.Errorf("clear show:\n%s", text.String())
	}
	var js bytes.Buffer
	if err := showCycle(&js, s, true); err != nil {
		t.Fatal(err)
	}
	var got struct {
		Totals map[string]struct {
			Count     int64 `json:"count"`
			AmountFen int64 `json:"amount_fen"`
		} `json:"totals"`
		TopUps []map[string]any `json:"top_ups"`
	}
	if err := json.Unmarshal(js.Bytes(), &got); err != nil || len(got.TopUps) != 1 || got.TopUps[0]["payer"] != "alipay" || got.TopUps[0]["refunded_fen"] != 1500.0 ||
		got.Totals["top_ups_paid"].AmountFen != 7000 {
		t.Errorf("clear show --json: %s (%v)", js.String(), err)
	}
}
