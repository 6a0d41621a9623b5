package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/citycard/citycard/api"
)

// TestClearingAPI drives a booked day's cycle through /v1/clearing over
// the real stores, as the console does: run, review, approve (another
// person), close, then its files and an operator's statement.
func TestClearingAPI(t *testing.T) {
	ctx := context.Background()
	db := clearDB(t, 300)
	st, err := openStores(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	clr, err := serveClearing(ctx, st)
	if err != nil || clr == nil {
		t.Fatalf("clearing: %v", err)
	}
	staff := &api.StaticStaff{}
	staff.Add("ann-token", api.Staff{Name: "ann", Role: api.RoleSupervisor})
	staff.Add("bob-token", api.Staff{Name: "bob", Role: api.RoleSupervisor})
	srv := httptest.NewServer((&api.Server{Staff: staff, Clearing: clr}).Handler())
	defer srv.Close()
	day := "/v1/clearing/cycles/" + clearTestDay.String()
	for _, s := range []struct{ method, path, token, want string }{
		{"POST", day + "/run", "ann-token", `"state":"computed"`},
		{"POST", day + "/review", "ann-token", `"reviewed_by":"ann"`},
		{"POST", day + "/approve", "bob-token", `"approved_by":"bob"`},
		{"POST", day + "/close", "bob-token", `"state":"closed"`},
		{"GET", day + "/files/CCLR-20250115-positions.csv", "ann-token", `"content":"party,receivable_fen,payable_fen,net_fen\n`},
		{"GET", day + "/files/CCLR-20250115-statement-op-012.csv", "ann-token", `"content":"kind,key,records`},
		{"GET", day + "/statements/op-012?limit=1", "ann-token", `"next_after":`},
		{"GET", "/v1/clearing/cycles", "ann-token", `"day":"2025-01-15"`},
	} {
		req, _ := http.NewRequest(s.method, srv.URL+s.path, nil)
		req.Header.Set("Authorization", "Bearer "+s.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), s.want) {
			t.Fatalf("%s %s: %d %.400s, want %q", s.method, s.path, resp.StatusCode, b, s.want)
		}
	}
}
