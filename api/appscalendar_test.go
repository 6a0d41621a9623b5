package api

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/citycard/citycard"
	"github.com/citycard/citycard/apps"
)

// TestAppCalendar: a school sets its calendar (holidays, make-up days)
// and reads it back by date; bad calendars (a holiday on a Saturday, a
// make-up day on a weekday, a date twice, a date that is none, 401
// dates, another key) are a 422 that changes nothing, as a library's
// calendar; attendance on a Saturday and on a holiday says the day is
// not a school day, with nobody absent; on a make-up Sunday pupils are
// absent.
func TestAppCalendar(t *testing.T) {
	ap := withApps(t, withCMS(t, newFixture(t)))
	ctx := context.Background()
	terms := apps.Terms{ValidFrom: [4]byte{0x20, 0x24, 0x09, 0x01}, ValidTo: [4]byte{0x20, 0x25, 0x07, 0x15}, Class: 301}
	for i := 1; i <= 2; i++ {
		if _, _, err := ap.o.Grant(ctx, "nb-school-7", apps.CardRef{Issuer: testIssuer, ASN: citycard.ASN{9: byte(i)}}, terms); err != nil {
			t.Fatal(err)
		}
	}
	put := func(app, body string) (int, map[string]any) {
		t.Helper()
		code, b := ap.do(t, "PUT", "/v1/apps/"+app+"/calendar", ap.tokens[app], "application/json", []byte(body), nil)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%d %s", code, b)
		}
		return code, v
	}
	attend := func(day string) map[string]any {
		t.Helper()
		code, b := ap.do(t, "GET", "/v1/apps/nb-school-7/reports/attendance?class=301&date="+day, ap.tokens["nb-school-7"], "", nil, nil)
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil || code != http.StatusOK {
			t.Fatalf("attendance on %s: %d %s", day, code, b)
		}
		return v
	}
	// 8 March 2025 is a Saturday, 3 March a Monday, 9 March a Sunday.
	if v := attend("20250308"); v["school_day"] != false || v["absent"] != 0.0 || v["pupils"].([]any)[0].(map[string]any)["presence"] != "no_school" {
		t.Fatalf("a Saturday: %v; want no school day, none absent", v)
	}
	if v := attend("20250303"); v["school_day"] != true || v["absent"] != 2.0 {
		t.Fatalf("a Monday: %v; want a school day, 2 absent", v)
	}
	good := `{"holidays":["20250404","20250303"],"make_up_days":["20250309"]}`
	if code, v := put("nb-school-7", good); code != http.StatusOK || v["app"] != "nb-school-7" ||
		strings.Join(strs(v["holidays"]), ",") != "20250303,20250404" || strings.Join(strs(v["make_up_days"]), ",") != "20250309" {
		t.Fatalf("calendar: %d %v", code, v)
	}
	if v := attend("20250303"); v["school_day"] != false || v["absent"] != 0.0 {
		t.Fatalf("a holiday Monday: %v; want no school day, none absent", v)
	}
	if v := attend("20250309"); v["school_day"] != true || v["absent"] != 2.0 {
		t.Fatalf("a make-up Sunday: %v; want a school day, 2 absent", v)
	}
	many := make([]string, apps.CalendarDaysMax+1)
	for i := range many {
		many[i] = `"20250310"`
	}
	for _, c := range []struct{ name, app, body string }{
		{"a holiday on a Saturday", "nb-school-7", `{"holidays":["20250308"],"make_up_days":[]}`},
		{"a make-up day on a Monday", "nb-school-7", `{"holidays":[],"make_up_days":["20250310"]}`},
		{"a date twice", "nb-school-7", `{"holidays":["20250310","20250310"],"make_up_days":[]}`},
		{"a date in both", "nb-school-7", `{"holidays":["20250310"],"make_up_days":["20250310"]}`},
		{"30 February", "nb-school-7", `{"holidays":["20250230"],"make_up_days":[]}`},
		{"a date with dashes", "nb-school-7", `{"holidays":["2025-03-10"],"make_up_days":[]}`},
		{"a date as a number", "nb-school-7", `{"holidays":[20250310],"make_up_days":[]}`},
		{"401 dates", "nb-school-7", `{"holidays":[` + strings.Join(many, ",") + `],"make_up_days":[]}`},
		{"no make-up days", "nb-school-7", `{"holidays":[]}`},
		{"another key", "nb-school-7", `{"holidays":[],"make_up_days":[],"year":2025}`},
		{"not an array", "nb-school-7", `{"holidays":"20250310","make_up_days":[]}`},
		{"a library", "nb-library", `{"holidays":[],"make_up_days":[]}`},
	} {
		if code, v := put(c.app, c.body); code != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %v, want 422", c.name, code, v)
		}
	}
	code, b := ap.do(t, "GET", "/v1/apps/nb-school-7/calendar", ap.tokens["nb-school-7"], "", nil, nil)
	if code != http.StatusOK || !strings.Contains(string(b), `"holidays":["20250303","20250404"],"make_up_days":["20250309"]`) {
		t.Fatalf("calendar after the bad input: %d %s, want the good one", code, b)
	}
	if code, _ := ap.do(t, "PUT", "/v1/apps/nb-school-7/calendar", ap.tokens["nb-library"], "application/json", []byte(good), nil); code != http.StatusForbidden {
		t.Errorf("the library setting the school's calendar: %d, want 403", code)
	}
}

// strs is a JSON array of strings as Go's.
func strs(v any) []string {
	var out []string
	a, _ := v.([]any)
	for _, x := range a {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}
