package cms

import (
	"testing"
	"time"

	"github.com/citycard/citycard"
)

// TestCheckEligible follows the issue: senior by age from the date of
// birth (70 and over, products.conf), student with a school and an end
// date; each at its boundary day.
func TestCheckEligible(t *testing.T) {
	c := DefaultProducts()
	senior, _ := c.Product("senior")
	student, _ := c.Product("student")
	transit, _ := c.Product("transit")
	tests := []struct {
		name string
		p    *Product
		f    Facts
		on   Date
		ok   bool
	}{
		{"senior the day before 70", senior, Facts{DateOfBirth: Date{1956, 12, 2}}, Date{2026, 12, 1}, false},
		{"senior on the 70th birthday", senior, Facts{DateOfBirth: Date{1956, 12, 2}}, Date{2026, 12, 2}, true},
		{"born 29 February, 28 February", senior, Facts{DateOfBirth: Date{1956, 2, 29}}, Date{2026, 2, 28}, false},
		{"born 29 February, 1 March", senior, Facts{DateOfBirth: Date{1956, 2, 29}}, Date{2026, 3, 1}, true},
		{"senior without a date of birth", senior, Facts{}, Date{2026, 3, 1}, false},
		{"student on the last day", student, Facts{School: "Ningbo No. 2 Middle School", StudiesEnd: Date{2027, 6, 30}}, Date{2027, 6, 30}, true},
		{"student the day after", student, Facts{School: "Ningbo No. 2 Middle School", StudiesEnd: Date{2027, 6, 30}}, Date{2027, 7, 1}, false},
		{"student without a school", student, Facts{StudiesEnd: Date{2027, 6, 30}}, Date{2026, 7, 1}, false},
		{"student without an end", student, Facts{School: "x"}, Date{2026, 7, 1}, false},
		{"anyone", transit, Facts{}, Date{2026, 7, 1}, true},
	}
	for _, tt := range tests {
		err := tt.p.CheckEligible(tt.f, tt.on)
		if (err == nil) != tt.ok || err != nil && !citycard.IsKind(err, citycard.Permission) {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
}

// TestCategoryOn follows the annual review (年审): a concession card
// travels in its category until GraceDays past its due date, at the adult
// fare from the day after, and again in its category once reviewed.
func TestCategoryOn(t *testing.T) {
	c := DefaultProducts()
	student, _ := c.Product("student")
	citizen, _ := c.Product("citizen")
	due := student.ReviewDue(Date{2026, 1, 1})
	if due != (Date{2027, 1, 1}) {
		t.Fatalf("due %v, want a year after the review", due)
	}
	tests := []struct {
		on   Date
		want string
	}{
		{Date{2027, 1, 1}, "student"},
		{Date{2027, 1, 31}, "student"}, // the 30th day of grace
		{Date{2027, 2, 1}, "adult"},
		{Date{2030, 1, 1}, "adult"},
	}
	for _, tt := range tests {
		if got := student.CategoryOn(due, tt.on); got.Name != tt.want {
			t.Errorf("on %v: %s, want %s", tt.on, got.Name, tt.want)
		}
	}
	// Reviewed late, on 2027-03-01: the category comes back, due a year on.
	due = student.ReviewDue(Date{2027, 3, 1})
	if got := student.CategoryOn(due, Date{2027, 3, 1}); got.Name != "student" || due != (Date{2028, 3, 1}) {
		t.Errorf("after the review: %s, due %v", got.Name, due)
	}
	if !citizen.ReviewDue(Date{2026, 1, 1}).IsZero() || citizen.CategoryOn(Date{}, Date{2040, 1, 1}).Name != "adult" {
		t.Error("a product without a review has a due date or lapses")
	}
}

func TestDate(t *testing.T) {
	if _, err := ParseDate("2026-02-30"); err == nil {
		t.Error("30 February parsed")
	}
	d, err := ParseDate("2024-02-29")
	if err != nil || d.String() != "2024-02-29" || d.AddDate(1, 0, 0) != (Date{2025, 3, 1}) {
		t.Errorf("%v %v", d, err)
	}
	if d.DaysUntil(Date{2024, 3, 1}) != 1 || (Date{}).String() != "" {
		t.Error("DaysUntil or the zero Date")
	}
}

// TestDormant: a registered card unused for dormant_years (3 in
// products.conf) is reported from that instant, not a nanosecond before;
// an anonymous, closed or never-dormant card never is.
func TestDormant(t *testing.T) {
	c := DefaultProducts()
	citizen, _ := c.Product("citizen")
	student, _ := c.Product("student")
	card := cardIn(Active)
	card.IssuedAt = t0
	last := t0.AddDate(1, 0, 0)
	due := last.AddDate(3, 0, 0)
	if citizen.Dormant(&card, last, due.Add(-time.Nanosecond)) || !citizen.Dormant(&card, last, due) {
		t.Error("not reported exactly 3 years after the last use")
	}
	if !citizen.Dormant(&card, time.Time{}, t0.AddDate(3, 0, 0)) {
		t.Error("a card never used is not counted from its issue")
	}
	anon := card
	anon.Holder = 0
	closed := card
	closed.State = Closed
	if citizen.Dormant(&anon, last, due) || citizen.Dormant(&closed, last, due) || student.Dormant(&card, last, due.AddDate(50, 0, 0)) {
		t.Error("an anonymous, closed or never-dormant card reported")
	}
}
