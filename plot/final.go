package plot

import (
	"fmt"
	"image/color"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
)

// finalPoints are the rows of a report at (x, mean y) with the standard
// deviation of y as error bars, and their names.
type finalPoints struct {
	xys    plotter.XYs
	errs   plotter.YErrors
	labels []string
}

func (f *finalPoints) add(r study.Row, x, y string) {
	xv, xok := r.Values[x]
	yv, yok := r.Values[y]
	if !xok || !yok || xv.N == 0 || yv.N == 0 {
		return
	}
	f.xys = append(f.xys, plotter.XY{X: xv.Mean, Y: yv.Mean})
	f.errs = append(f.errs, struct{ Low, High float64 }{yv.SD, yv.SD})
	f.labels = append(f.labels, r.Name)
}

// Len, XY and YError make finalPoints an XYer and a YErrorer.
func (f *finalPoints) Len() int                    { return len(f.xys) }
func (f *finalPoints) XY(i int) (float64, float64) { return f.xys[i].X, f.xys[i].Y }
func (f *finalPoints) YError(i int) (float64, float64) {
	return f.errs[i].Low, f.errs[i].High
}

// FinalPlot draws the retrained architectures of a run's final stage: each
// at its mean y (a measured objective, with one standard deviation over the
// seeds as error bars) against x (params or cache_bytes); baselines as
// blue triangles, evolved architectures as red circles, each named.
func FinalPlot(rep study.Report, x, y string) (*gplot.Plot, error) {
	p := gplot.New()
	p.Title.Text = fmt.Sprintf("Final stage of %s (%d seeds, %d steps)", rep.Run, rep.Seeds, rep.Steps)
	p.X.Label.Text = x
	p.Y.Label.Text = y + " (mean ± sd)"
	p.Add(plotter.NewGrid())
	var base, evolved finalPoints
	for _, r := range rep.Rows {
		if r.Role == storage.RoleBaseline {
			base.add(r, x, y)
		} else {
			evolved.add(r, x, y)
		}
	}
	var all plotter.XYs
	for _, set := range []struct {
		pts   *finalPoints
		name  string
		color color.Color
		shape draw.GlyphDrawer
	}{
		{&evolved, "evolved", highlight, draw.CircleGlyph{}},
		{&base, "baseline", seedBlue, draw.TriangleGlyph{}},
	} {
		if set.pts.Len() == 0 {
			continue
		}
		bars, err := plotter.NewYErrorBars(set.pts)
		if err != nil {
			return nil, fmt.Errorf("drawing error bars: %w", err)
		}
		sc, err := plotter.NewScatter(set.pts)
		if err != nil {
			return nil, fmt.Errorf("drawing %s architectures: %w", set.name, err)
		}
		bars.Color = set.color
		sc.GlyphStyle = draw.GlyphStyle{Color: set.color, Radius: vg.Points(4), Shape: set.shape}
		labels, err := plotter.NewLabels(plotter.XYLabels{XYs: set.pts.xys, Labels: set.pts.labels})
		if err != nil {
			return nil, fmt.Errorf("naming %s architectures: %w", set.name, err)
		}
		labels.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(3)}
		p.Add(bars, sc, labels)
		p.Legend.Add(set.name, sc)
		for i, xy := range set.pts.xys {
			lo, hi := set.pts.YError(i)
			all = append(all, plotter.XY{X: xy.X, Y: xy.Y - lo}, plotter.XY{X: xy.X, Y: xy.Y + hi})
		}
	}
	if len(all) == 0 {
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		return p, nil
	}
	p.Legend.Top = true
	pad(&p.X, all, func(xy plotter.XY) float64 { return xy.X })
	pad(&p.Y, all, func(xy plotter.XY) float64 { return xy.Y })
	// Room for the names right of the rightmost points.
	p.X.Max += (p.X.Max - p.X.Min) * 0.15
	return p, nil
}
