package dashboard

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/star-pipeline/star-pipeline/candmetrics"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
)

// CancelMessage is the error text of a run cancelled from the dashboard.
const CancelMessage = "cancelled from the dashboard"

// RunSummary is one run as the runs page and /api/runs show it: the read
// model's summary, whose JSON `star-pipeline runs --json` prints too.
type RunSummary struct {
	runview.Summary
}

// Elapsed is the run's elapsed time for a page.
func (s RunSummary) Elapsed() string {
	return formatDuration(s.Summary.Elapsed())
}

// BestList is Best in objective order, for a page.
func (s RunSummary) BestList() []namedValue {
	var out []namedValue
	for _, o := range s.Objectives {
		if v, ok := s.Best[o]; ok {
			out = append(out, namedValue{Name: o, Value: v})
		}
	}
	return out
}

type namedValue struct {
	Name  string
	Value float64
}

// runData is everything read about one run, from one snapshot.
type runData = runview.Run

// summarise builds a run's summary at time now.
func summarise(d runData, now time.Time) RunSummary {
	return RunSummary{runview.Summarise(d, now)}
}

// losses returns the "losses" array of a candidate's metrics, or nil.
func losses(m json.RawMessage) []float64 {
	c, _ := candmetrics.Parse(m)
	out := c.Losses[:0:0]
	for _, l := range c.Losses {
		if !math.IsNaN(l) && !math.IsInf(l, 0) {
			out = append(out, l)
		}
	}
	if len(out) < 2 {
		return nil
	}
	return out
}

// formatDuration prints d to the second: 12s, 4m10s, 2h05m, 3d04h.
func formatDuration(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return d.String()
	case d < time.Hour:
		if d%time.Minute == 0 {
			return itoa(int(d/time.Minute)) + "m"
		}
		return d.String()
	case d < 48*time.Hour:
		h := d / time.Hour
		m := (d % time.Hour) / time.Minute
		return itoa(int(h)) + "h" + pad2(int(m)) + "m"
	}
	days := d / (24 * time.Hour)
	h := (d % (24 * time.Hour)) / time.Hour
	return itoa(int(days)) + "d" + pad2(int(h)) + "h"
}

func itoa(i int) string { return trimFloat(float64(i), 20) }

func pad2(i int) string {
	if i < 10 {
		return "0" + itoa(i)
	}
	return itoa(i)
}

// sortCandidates orders cs by key ascending (desc reverses it); candidates
// lacking the key go last either way. Ties keep generation and index order.
func sortCandidates(cs []storage.Candidate, key string, desc bool) {
	slices.SortStableFunc(cs, func(a, b storage.Candidate) int {
		var c int
		switch key {
		case "id", "":
			c = cmp.Or(cmp.Compare(a.Generation, b.Generation), cmp.Compare(a.Index, b.Index))
		case "status":
			c = cmp.Compare(a.Status, b.Status)
		case "operator":
			c = cmp.Compare(a.Operator, b.Operator)
		default:
			va, oka := a.Objectives[key]
			vb, okb := b.Objectives[key]
			switch {
			case !oka && !okb:
				return 0
			case !oka:
				return 1
			case !okb:
				return -1
			}
			c = cmp.Compare(va, vb)
		}
		if desc {
			return -c
		}
		return c
	})
}
