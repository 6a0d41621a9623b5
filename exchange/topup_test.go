package exchange

import (
	"bytes"
	"testing"
	"time"

	"github.com/citycard/citycard/clearing"
)

// topUpsCleared returns the closed cycle of cleared with, beside its
// records, remote top-ups: Alipay's two (a commission of 0.3%) and
// WeChat Pay's one, less an expired one of WeChat Pay's refunded, and
// the claim of one onto its card (a load through the issuer itself).
func topUpsCleared(t *testing.T) (*clearing.Cycle, *clearing.Result) {
	t.Helper()
	c, _ := cleared(t)
	clr, err := clearing.NewClearer(clearing.Config{Calendar: clearing.DefaultCalendar(), Collector: our, Rounding: clearing.RoundHalfEven,
		Commissions: []clearing.FeeSchedule{{Party: "alipay", Rules: []clearing.FeeRule{{Name: "alipay", RatePPM: 3000, MinFen: 1}}}}})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	in := &clearing.Input{Day: day, LoadClaim: clearing.LoadClaim{Range: clearing.Range{From: 0, To: 5}, Entries: 5},
		Loads: []clearing.Load{{Seq: 4, Channel: our, Issuer: our, AmountFen: 5000}},
		TopUps: []clearing.TopUpMove{
			{Seq: 1, At: at, TopUp: "0000000000000001", Payer: "alipay", Issuer: our, AmountFen: 5000},
			{Seq: 2, At: at, TopUp: "0000000000000002", Payer: "wechat-pay", Issuer: our, AmountFen: 3000},
			{Seq: 3, At: at, TopUp: "0000000000000003", Payer: "alipay", Issuer: our, AmountFen: 2333},
			{Seq: 5, At: at, TopUp: "0000000000000000", Payer: "wechat-pay", Issuer: our, AmountFen: -1500},
		}}
	res, err := clr.Clear(in)
	if err != nil {
		t.Fatal(err)
	}
	return c, res
}

var payers = map[string]Party{
	our:          parties[our],
	"alipay":     {Name: "Alipay (China) Network Technology", Account: "CMB Hangzhou 5710 0000 0001"},
	"wechat-pay": {Name: "Tenpay Payment Technology", Account: "CMB Shenzhen 7550 0000 0002"},
}

// TestTopUpFiles: a cycle with remote top-ups writes their lines and the
// pay-ins expected from the payers beside its positions, the payers in
// no payment of the pain.001 (they pay in; no direct debit is
// requested), golden and the same bytes on every run.
func TestTopUpFiles(t *testing.T) {
	c, res := topUpsCleared(t)
	goldenFiles(t, "topups-", "positions.csv instructions.csv pain001.xml topups.csv incoming.csv", c, res, payers)
	s, err := Settle(c, res, payers)
	if err != nil {
		t.Fatal(err)
	}
	// Alipay: 7333 collected less 22 fen of commission (15 + 7); WeChat
	// Pay: 3000 less the 1500 refunded.
	want := []PayIn{
		{Reference: "CCLR-20261201-R00001", Party: "alipay", Name: payers["alipay"].Name, Account: payers["alipay"].Account, AmountFen: 7333 - 22},
		{Reference: "CCLR-20261201-R00002", Party: "wechat-pay", Name: payers["wechat-pay"].Name, Account: payers["wechat-pay"].Account, AmountFen: 1500},
	}
	if len(s.Incoming) != 2 || s.Incoming[0] != want[0] || s.Incoming[1] != want[1] || s.IncomingFen != 7311+1500 || len(s.Instructions) != 0 {
		t.Errorf("pay-ins %+v (%d fen), instructions %+v; want %+v", s.Incoming, s.IncomingFen, s.Instructions, want)
	}
	// A payer the registry does not name cannot be asked to pay in.
	if _, err := Files(c, res, parties); err == nil {
		t.Error("files with the payers unnamed: written, want NotFound")
	}
}

// TestPayerStatementFiles: a payer's statement lists its top-ups, each
// with its ledger entry and ID, under the sums by issuer and day.
func TestPayerStatementFiles(t *testing.T) {
	tops := []clearing.StatementTopUp{
		{Seq: 1, TopUp: "0000000000000001", Day: "20261201", Issuer: our, Card: "card:" + our + "/01", AmountFen: 5000, CommissionFen: 15, Rule: "alipay"},
		{Seq: 5, TopUp: "0000000000000000", Refund: true, Day: "20261201", Issuer: our, Card: "card:" + our + "/04", AmountFen: -1500, CommissionFen: -5, Rule: "alipay"},
	}
	sum := clearing.StatementRow{Records: 2, GrossFen: 3500, FeeFen: 10, NetFen: -3490}
	total, byIssuer, byDay := sum, sum, sum
	total.Key, byIssuer.Key, byDay.Key = "total", our, "20261201"
	st := clearing.Statement{Party: "alipay", Day: day, Total: clearing.StatementRow{Key: "total"}, TopUps: tops, TopUpTotal: total,
		TopUpIssuers: []clearing.StatementRow{byIssuer}, TopUpDays: []clearing.StatementRow{byDay}, PositionFen: -3490}
	fs, err := StatementFiles([]clearing.Statement{st})
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "statement-payer.csv", fs[0].Data)
	golden(t, "statement-payer.txt", fs[1].Data)
	if !bytes.Contains(fs[0].Data, []byte("topup,0000000000000000,1,-1500,-5,1495,5,,,20261201,"+our+",card:"+our+"/04,,,alipay,\n")) {
		t.Errorf("the refund's row is not in the CSV:\n%s", fs[0].Data)
	}
}
