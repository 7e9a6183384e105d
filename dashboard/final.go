package dashboard

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
)

// finalView is the final-stage section of a run's page: the report's
// table and notes, and a chart of quality against a cost.
type finalView struct {
	Chart  *chart
	Header []string
	Rows   [][]string
	Notes  []string
}

// loadFinal builds the final-stage section of run d, or nil when the run
// has no final stage.
func loadFinal(ctx context.Context, tx *storage.Tx, d runData) (*finalView, error) {
	if d.Config.Final == nil {
		return nil, nil
	}
	entries, err := tx.ListFinalEntries(ctx, d.Run.ID)
	if err != nil {
		return nil, err
	}
	rep, err := study.Compute(study.Input{Run: d.Run, Config: d.Config, Entries: entries, Candidates: d.Candidates,
		Generations: d.Generations})
	if err != nil {
		return nil, err
	}
	v := &finalView{Notes: rep.Notes()}
	v.Header, v.Rows = rep.Table()
	v.Chart = finalChart(rep)
	return v, nil
}

// finalChart draws each retrained architecture at its mean quality (the
// run's first measured objective) with one standard deviation as an error
// bar, against its cache bytes (or params); baselines are triangles.
func finalChart(rep study.Report) *chart {
	x, y := config.Params, ""
	for _, o := range rep.Objectives {
		if o == config.CacheBytes || o == config.Params {
			x = o
			break
		}
	}
	for _, o := range rep.Objectives {
		if study.IsMeasured(o) {
			y = o
			break
		}
	}
	type pt struct {
		row    study.Row
		x, y   float64
		sd     float64
		listed bool
	}
	var pts []pt
	var xs, ys []float64
	for _, r := range rep.Rows {
		xv, yv := r.Values[x], r.Values[y]
		if y == "" || xv.N == 0 || yv.N == 0 {
			continue
		}
		pts = append(pts, pt{row: r, x: xv.Mean, y: yv.Mean, sd: yv.SD})
		xs = append(xs, xv.Mean, xv.Mean)
		ys = append(ys, yv.Mean-yv.SD, yv.Mean+yv.SD)
	}
	c, sx, sy := newChart(660, 380, x, y+" (mean ± sd)", xs, ys)
	switch {
	case y == "":
		c.Empty = "the run measures no quality objective (perplexity, mad_score, latency) to draw"
		return c
	case len(pts) == 0:
		c.Empty = "no retraining evaluated yet"
		return c
	}
	for _, p := range pts {
		px := sx.at(p.x)
		c.Lines = append(c.Lines, polyline{Points: fmt.Sprintf("%.1f,%.1f %.1f,%.1f", px, sy.at(p.y-p.sd), px, sy.at(p.y+p.sd)),
			Class: "errbar"})
		m := mark{X: px, Y: sy.at(p.y), R: 5, Class: "pt front", Seed: p.row.Role == storage.RoleBaseline,
			Title: fmt.Sprintf("%s\n%s = %s ± %s (n=%d)\n%s = %s\n%s", p.row.Name, y, compact(p.y), compact(p.sd),
				p.row.Values[y].N, x, compact(p.x), p.row.Genome)}
		if p.row.Source != "" {
			m.Href = candidatePath(p.row.Source)
		}
		c.Marks = append(c.Marks, m)
		c.Labels = append(c.Labels, label{X: px + 8, Y: sy.at(p.y) - 6, Text: p.row.Name})
	}
	return c
}

// apiReport is /api/runs/{id}/report: the final stage's report, the JSON
// of `star-pipeline report --json`; 404 for a run without a final stage.
func (s *Server) apiReport(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var rep study.Report
	err := s.view(r.Context(), func(tx *storage.Tx) error {
		var err error
		rep, err = study.Load(r.Context(), tx, id)
		switch {
		case errors.Is(err, study.ErrNoFinalStage):
			return notFound("run %q has no final stage", id)
		case err != nil:
			return notFoundRun(err, id)
		}
		return nil
	})
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
