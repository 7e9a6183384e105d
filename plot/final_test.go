package plot_test

import (
	"path/filepath"
	"testing"

	"github.com/star-pipeline/star-pipeline/plot"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
)

func TestFinalPlot(t *testing.T) {
	t.Parallel()
	row := func(name string, role storage.FinalRole, ppl []float64, cache float64) study.Row {
		n := len(ppl)
		return study.Row{Name: name, Role: role, Seeds: n, Values: map[string]study.Stat{
			"perplexity":  study.NewStat(ppl),
			"cache_bytes": {Mean: cache, N: n},
			"params":      {Mean: 1000, N: n},
		}}
	}
	rep := study.Report{Run: "r1", Seeds: 3, Steps: 400, Objectives: []string{"perplexity", "cache_bytes"}, Rows: []study.Row{
		row("transformer++", storage.RoleBaseline, []float64{10, 11, 12}, 131072),
		row("striped", storage.RoleBaseline, []float64{9, 9.5, 10}, 38912),
		row("STAR-1", storage.RoleCandidate, []float64{8.5, 8.7, 8.9}, 20000),
		{Name: "STAR-2", Role: storage.RoleCandidate, Failed: 3, Values: map[string]study.Stat{}}, // no point to draw
	}}
	dir := t.TempDir()
	for _, r := range []study.Report{rep, {Run: "empty"}} {
		p, err := plot.FinalPlot(r, "cache_bytes", "perplexity")
		if err != nil {
			t.Fatal(err)
		}
		for _, ext := range []string{"png", "svg"} {
			path := filepath.Join(dir, r.Run+"."+ext)
			if err := plot.Save(p, path, plot.DefaultWidth, plot.DefaultHeight); err != nil {
				t.Fatal(err)
			}
			checkImage(t, path)
		}
	}
	// The y range covers every error bar.
	p, _ := plot.FinalPlot(rep, "cache_bytes", "perplexity")
	if p.Y.Min > 8.7-0.2 || p.Y.Max < 11+1 {
		t.Errorf("y axis %g..%g does not cover the error bars (8.5..12)", p.Y.Min, p.Y.Max)
	}
}
