// Package plot draws a run's charts with gonum.org/v1/plot: the Pareto
// front for a pair of objectives (ParetoPlot), the hypervolume per
// generation (HypervolumePlot), the LIV classes of the front against those
// of the population (ClassesPlot) and the final stage (FinalPlot), from
// the data package runview computes; Save writes a PNG or SVG file.
package plot

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"math"
	"path/filepath"
	"strings"

	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/star-pipeline/star-pipeline/internal/atomicfile"
	"github.com/star-pipeline/star-pipeline/runview"
)

// Default image size of Save.
const (
	DefaultWidth  = 16 * vg.Centimeter
	DefaultHeight = 11 * vg.Centimeter
)

// ErrFormat: an output file name ends in neither .png nor .svg.
var ErrFormat = errors.New("unsupported image format")

var (
	faint     = color.RGBA{R: 150, G: 150, B: 160, A: 255}
	highlight = color.RGBA{R: 214, G: 69, B: 65, A: 255}
	seedBlue  = color.RGBA{R: 38, G: 110, B: 190, A: 255}
	barGrey   = color.RGBA{R: 170, G: 175, B: 185, A: 255}
)

// ParetoPlot draws every point faintly, the front in colour joined as a
// staircase, and seed genomes as triangles.
func ParetoPlot(d runview.ParetoData) (*gplot.Plot, error) {
	p := gplot.New()
	p.Title.Text = fmt.Sprintf("Pareto front of %s", d.Run)
	p.X.Label.Text = d.X
	p.Y.Label.Text = d.Y
	p.Add(plotter.NewGrid())

	var all, front, seeds plotter.XYs
	for _, pt := range d.Points {
		xy := plotter.XY{X: pt.X, Y: pt.Y}
		all = append(all, xy)
		if pt.Seed {
			seeds = append(seeds, xy)
		}
	}
	for _, pt := range d.Front() {
		front = append(front, plotter.XY{X: pt.X, Y: pt.Y})
	}
	if len(all) == 0 {
		// An empty chart still needs a range to draw axes.
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		return p, nil
	}
	sAll, err := plotter.NewScatter(all)
	if err != nil {
		return nil, fmt.Errorf("drawing candidates: %w", err)
	}
	sAll.GlyphStyle = draw.GlyphStyle{Color: faint, Radius: vg.Points(2.5), Shape: draw.CircleGlyph{}}
	p.Add(sAll)
	p.Legend.Add("candidates", sAll)
	if len(front) > 0 {
		line, err := plotter.NewLine(staircase(front))
		if err != nil {
			return nil, fmt.Errorf("drawing the front: %w", err)
		}
		line.Color = highlight
		line.Width = vg.Points(1.2)
		sFront, err := plotter.NewScatter(front)
		if err != nil {
			return nil, fmt.Errorf("drawing the front: %w", err)
		}
		sFront.GlyphStyle = draw.GlyphStyle{Color: highlight, Radius: vg.Points(3.5), Shape: draw.CircleGlyph{}}
		p.Add(line, sFront)
		p.Legend.Add("front", sFront)
	}
	if len(seeds) > 0 {
		sSeed, err := plotter.NewScatter(seeds)
		if err != nil {
			return nil, fmt.Errorf("drawing the seeds: %w", err)
		}
		sSeed.GlyphStyle = draw.GlyphStyle{Color: seedBlue, Radius: vg.Points(4), Shape: draw.TriangleGlyph{}}
		p.Add(sSeed)
		p.Legend.Add("seed", sSeed)
	}
	p.Legend.Top, p.Legend.Left = true, true
	pad(&p.X, all, func(xy plotter.XY) float64 { return xy.X })
	pad(&p.Y, all, func(xy plotter.XY) float64 { return xy.Y })
	return p, nil
}

// pad widens an axis by 5% of the data's range on each side, so that marks
// at the edges are drawn whole.
func pad(a *gplot.Axis, xys plotter.XYs, v func(plotter.XY) float64) {
	lo, hi := v(xys[0]), v(xys[0])
	for _, xy := range xys {
		lo, hi = min(lo, v(xy)), max(hi, v(xy))
	}
	m := (hi - lo) * 0.05
	if m == 0 {
		m = max(math.Abs(lo)*0.05, 0.5)
	}
	a.Min, a.Max = lo-m, hi+m
}

// staircase joins front points (sorted by x) with horizontal then vertical
// steps: the boundary of the region they dominate.
func staircase(front plotter.XYs) plotter.XYs {
	var s plotter.XYs
	for i, pt := range front {
		if i > 0 {
			s = append(s, plotter.XY{X: pt.X, Y: front[i-1].Y})
		}
		s = append(s, pt)
	}
	return s
}

// HypervolumePlot draws the hypervolume per generation as a line with points.
func HypervolumePlot(run string, hv []runview.HypervolumePoint) (*gplot.Plot, error) {
	p := gplot.New()
	p.Title.Text = fmt.Sprintf("Hypervolume of %s", run)
	p.X.Label.Text = "generation"
	p.Y.Label.Text = "hypervolume"
	p.Add(plotter.NewGrid())
	if len(hv) == 0 {
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		return p, nil
	}
	xys := make(plotter.XYs, len(hv))
	for i, h := range hv {
		xys[i] = plotter.XY{X: float64(h.Generation), Y: h.Hypervolume}
	}
	line, points, err := plotter.NewLinePoints(xys)
	if err != nil {
		return nil, fmt.Errorf("drawing hypervolume: %w", err)
	}
	line.Color = highlight
	points.Color = highlight
	points.Shape = draw.CircleGlyph{}
	p.Add(line, points)
	return p, nil
}

// ClassesPlot draws, for one generation, the share of population slots and
// of front slots that each LIV class holds, as pairs of bars. generation < 0
// means the last generation.
func ClassesPlot(d runview.ClassData, generation int) (*gplot.Plot, error) {
	if len(d.Generations) == 0 {
		p := gplot.New()
		p.Title.Text = fmt.Sprintf("LIV classes of %s: no candidates yet", d.Run)
		p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = 0, 1, 0, 1
		return p, nil
	}
	g, ok := d.Generations[len(d.Generations)-1], generation < 0
	for _, gc := range d.Generations {
		if gc.Generation == generation {
			g, ok = gc, true
		}
	}
	if !ok {
		return nil, fmt.Errorf("run %s has no generation %d", d.Run, generation)
	}
	p := gplot.New()
	p.Title.Text = fmt.Sprintf("LIV classes of %s, generation %d", d.Run, g.Generation)
	p.Y.Label.Text = "share of slots"
	p.Y.Min = 0
	var names []string
	pop := make(plotter.Values, len(d.Classes))
	front := make(plotter.Values, len(d.Classes))
	for i, c := range d.Classes {
		names = append(names, c.Name)
		pop[i] = g.PopulationShare(c.ID)
		front[i] = g.FrontShare(c.ID)
	}
	w := vg.Points(9)
	bPop, err := plotter.NewBarChart(pop, w)
	if err != nil {
		return nil, fmt.Errorf("drawing classes: %w", err)
	}
	bPop.Color, bPop.LineStyle.Width, bPop.Offset = barGrey, 0, -w/2
	bFront, err := plotter.NewBarChart(front, w)
	if err != nil {
		return nil, fmt.Errorf("drawing classes: %w", err)
	}
	bFront.Color, bFront.LineStyle.Width, bFront.Offset = highlight, 0, w/2
	p.Add(bPop, bFront)
	p.Legend.Add("population", bPop)
	p.Legend.Add("front", bFront)
	p.Legend.Top = true
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = math.Pi / 5
	p.X.Tick.Label.XAlign = draw.XRight
	p.X.Tick.Label.YAlign = draw.YCenter
	return p, nil
}

// Format returns the image format of a file name: "png" or "svg", or an
// error wrapping ErrFormat.
func Format(path string) (string, error) {
	switch ext := strings.ToLower(filepath.Ext(path)); ext {
	case ".png", ".svg":
		return ext[1:], nil
	default:
		return "", fmt.Errorf("%w %q: name the file .png or .svg", ErrFormat, ext)
	}
}

// Save writes p to path as PNG or SVG, by the file's extension, at w by h.
// The file appears whole or not at all.
func Save(p *gplot.Plot, path string, w, h vg.Length) (err error) {
	format, err := Format(path)
	if err != nil {
		return err
	}
	wt, err := p.WriterTo(w, h, format)
	if err != nil {
		return fmt.Errorf("rendering %s: %w", path, err)
	}
	return atomicfile.Write(path, func(f io.Writer) error {
		_, err := wt.WriteTo(f)
		return err
	})
}
