package console

import (
	"cmp"
	"net/http"
	"slices"

	"github.com/citycard/citycard/apps"
	"github.com/citycard/citycard/card"
)

type appRow struct {
	Day, App, Action string
	N                int64
}

type appsPage struct {
	Days  []string
	Rows  []appRow
	Cut   bool
	Chart chart
	Total int64
	List  []apps.App // the application systems, each linked to its page
	// NoneAdded says the console has the application systems, without
	// one application yet.
	NoneAdded bool
}

// handleApps shows the application systems' stamps (acquire's
// ClassApplication records: check-ins, admissions, loans) per day,
// application and action, as a chart (stamps a day by application) and
// the table of every figure, the newest day first.
func (c *Console) handleApps(w http.ResponseWriter, r *http.Request, s *session) {
	snap, _ := c.refreshed(r.Context())
	var p appsPage
	if c.Apps != nil {
		list, err := c.Apps.Apps(r.Context())
		if err != nil {
			c.fail(w, r, s, err)
			return
		}
		p.List, p.NoneAdded = list, len(list) == 0
	}
	byApp := map[uint8][]int64{}
	for i, d := range snap.Days {
		p.Days = append(p.Days, d.Date)
		for k, n := range d.Apps {
			if byApp[k.App] == nil {
				byApp[k.App] = make([]int64, len(snap.Days))
			}
			byApp[k.App][i] += n
		}
	}
	for i := len(snap.Days) - 1; i >= 0; i-- {
		d := &snap.Days[i]
		var rows []appRow
		for k, n := range d.Apps {
			rows = append(rows, appRow{Day: d.Date, App: card.Application(k.App).String(), Action: apps.Action(k.Action).String(), N: n})
			p.Total += n
		}
		slices.SortFunc(rows, func(a, b appRow) int { return cmp.Or(cmp.Compare(a.App, b.App), cmp.Compare(a.Action, b.Action)) })
		for _, row := range rows {
			if len(p.Rows) == maxTableRows {
				p.Cut = true
				break
			}
			p.Rows = append(p.Rows, row)
		}
	}
	p.Chart = chart{Type: "bar", Labels: p.Days}
	ids := make([]uint8, 0, len(byApp))
	for a := range byApp {
		ids = append(ids, a)
	}
	slices.Sort(ids)
	for _, a := range ids {
		p.Chart.Datasets = append(p.Chart.Datasets, dataset{Label: card.Application(a).String(), Data: byApp[a]})
	}
	c.render(w, r, s, http.StatusOK, "apps", "Applications", p)
}
