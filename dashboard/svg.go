package dashboard

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/runview"
)

// chart is the geometry of an inline SVG chart with two numeric axes, in
// pixels; the templates only place what it holds.
type chart struct {
	W, H           float64
	Left, Top      float64 // plot area origin
	Right, Bottom  float64 // plot area far corner
	XLabel, YLabel string
	XTicks, YTicks []tick
	Lines          []polyline
	Marks          []mark
	Labels         []label
	Empty          string // message shown instead of data
}

// label is a text placed in the plot area.
type label struct {
	X, Y float64
	Text string
}

type tick struct {
	Pos   float64
	Label string
}

type polyline struct {
	Points string // SVG points attribute
	Class  string
}

// mark is one data point. Front and Seed become data attributes.
type mark struct {
	X, Y      float64
	R         float64
	Class     string
	Front     bool
	Seed      bool
	Candidate string // data-candidate and link target; "" for none
	Href      string
	Title     string
}

// TrianglePath is the path of a seed mark: a triangle around (X, Y).
func (m mark) TrianglePath() string {
	r := m.R * 1.5
	return fmt.Sprintf("M%.1f %.1fL%.1f %.1fL%.1f %.1fZ", m.X, m.Y-r, m.X+r*0.87, m.Y+r*0.5, m.X-r*0.87, m.Y+r*0.5)
}

// scale maps data values linearly onto pixels.
type scale struct {
	lo, hi       float64 // data
	pixLo, pixHi float64
}

func (s scale) at(v float64) float64 {
	if s.hi == s.lo {
		return (s.pixLo + s.pixHi) / 2
	}
	return s.pixLo + (v-s.lo)/(s.hi-s.lo)*(s.pixHi-s.pixLo)
}

// niceTicks returns about n round tick values covering [lo, hi] and the
// range they span.
// An integer axis never steps by less than 1.
func niceTicks(lo, hi float64, n int, integer bool) (ticks []float64, tlo, thi float64) {
	if hi < lo {
		lo, hi = hi, lo
	}
	if hi == lo {
		d := math.Abs(lo) * 0.1
		if d == 0 || integer {
			d = math.Max(d, 1)
		}
		lo, hi = lo-d, hi+d
	}
	raw := (hi - lo) / float64(max(n, 1))
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if raw <= m*mag {
			step = m * mag
			break
		}
	}
	if integer && step < 1 {
		step = 1
	}
	tlo = math.Floor(lo/step) * step
	thi = math.Ceil(hi/step) * step
	for v := tlo; v <= thi+step/2; v += step {
		ticks = append(ticks, math.Round(v/step)*step)
	}
	return ticks, tlo, thi
}

// compact prints a number briefly: 412k, 1.2M, 0.42, 31.5.
func compact(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e9:
		return trimFloat(v/1e9, 3) + "G"
	case a >= 1e6:
		return trimFloat(v/1e6, 3) + "M"
	case a >= 1e4:
		return trimFloat(v/1e3, 3) + "k"
	}
	return trimFloat(v, 4)
}

// trimFloat prints v with at most digits significant digits and no
// trailing zeros.
func trimFloat(v float64, digits int) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	return strconv.FormatFloat(v, 'g', digits, 64)
}

// integerAxes are the axes whose values are whole numbers.
var integerAxes = map[string]bool{runview.Generation: true, "step": true}

// newChart returns an empty chart of w by h pixels with room for axis
// labels, its scales set from the data ranges. An axis named in integerAxes
// steps by whole numbers.
func newChart(w, h float64, xlabel, ylabel string, xs, ys []float64) (*chart, scale, scale) {
	c := &chart{W: w, H: h, Left: 64, Top: 14, Right: w - 16, Bottom: h - 44, XLabel: xlabel, YLabel: ylabel}
	xt, xlo, xhi := niceTicks(minOf(xs), maxOf(xs), 6, integerAxes[xlabel])
	yt, ylo, yhi := niceTicks(minOf(ys), maxOf(ys), 5, integerAxes[ylabel])
	sx := scale{lo: xlo, hi: xhi, pixLo: c.Left, pixHi: c.Right}
	sy := scale{lo: ylo, hi: yhi, pixLo: c.Bottom, pixHi: c.Top}
	for _, v := range xt {
		c.XTicks = append(c.XTicks, tick{Pos: sx.at(v), Label: compact(v)})
	}
	for _, v := range yt {
		c.YTicks = append(c.YTicks, tick{Pos: sy.at(v), Label: compact(v)})
	}
	return c, sx, sy
}

func minOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	m := vs[0]
	for _, v := range vs {
		m = math.Min(m, v)
	}
	return m
}

func maxOf(vs []float64) float64 {
	if len(vs) == 0 {
		return 1
	}
	m := vs[0]
	for _, v := range vs {
		m = math.Max(m, v)
	}
	return m
}

// paretoChart draws every point faintly and the front in colour, joined as
// a staircase; seeds are triangles. Every front point carries data-front="1".
func paretoChart(d runview.ParetoData) *chart {
	var xs, ys []float64
	for _, p := range d.Points {
		xs = append(xs, p.X)
		ys = append(ys, p.Y)
	}
	c, sx, sy := newChart(660, 420, d.X, d.Y, xs, ys)
	if len(d.Points) == 0 {
		c.Empty = "no evaluated candidates yet"
		return c
	}
	var stairs []string
	for i, p := range d.Front() {
		if i > 0 {
			prev := d.Front()[i-1]
			stairs = append(stairs, fmt.Sprintf("%.1f,%.1f", sx.at(p.X), sy.at(prev.Y)))
		}
		stairs = append(stairs, fmt.Sprintf("%.1f,%.1f", sx.at(p.X), sy.at(p.Y)))
	}
	if len(stairs) > 1 {
		c.Lines = append(c.Lines, polyline{Points: strings.Join(stairs, " "), Class: "front-line"})
	}
	// Faint points first, so the front is drawn on top.
	for _, front := range []bool{false, true} {
		for _, p := range d.Points {
			if p.Front != front {
				continue
			}
			m := mark{X: sx.at(p.X), Y: sy.at(p.Y), R: 4, Class: "pt", Front: p.Front, Seed: p.Seed,
				Candidate: p.Candidate, Href: candidatePath(p.Candidate),
				Title: fmt.Sprintf("%s (%s)\n%s = %s\n%s = %s\n%s", p.Candidate, p.Operator, d.X, compact(p.X),
					d.Y, compact(p.Y), p.Genome)}
			if p.Front {
				m.Class, m.R = "pt front", 5.5
			}
			if p.Copy {
				m.Class += " copy"
			}
			c.Marks = append(c.Marks, m)
		}
	}
	return c
}

// hypervolumeChart draws the hypervolume per generation.
func hypervolumeChart(hv []runview.HypervolumePoint) *chart {
	var xs, ys []float64
	for _, h := range hv {
		xs = append(xs, float64(h.Generation))
		ys = append(ys, h.Hypervolume)
	}
	c, sx, sy := newChart(460, 280, "generation", "hypervolume", xs, ys)
	if len(hv) == 0 {
		c.Empty = "no generation selected yet"
		return c
	}
	var pts []string
	for _, h := range hv {
		x, y := sx.at(float64(h.Generation)), sy.at(h.Hypervolume)
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", x, y))
		c.Marks = append(c.Marks, mark{X: x, Y: y, R: 3.5, Class: "hv",
			Title: fmt.Sprintf("generation %d: %s", h.Generation, trimFloat(h.Hypervolume, 5))})
	}
	c.Lines = append(c.Lines, polyline{Points: strings.Join(pts, " "), Class: "hv-line"})
	return c
}

// lossChart draws a training loss curve.
func lossChart(losses []float64) *chart {
	xs := make([]float64, len(losses))
	for i := range losses {
		xs[i] = float64(i + 1)
	}
	c, sx, sy := newChart(480, 240, "step", "loss", xs, losses)
	var pts []string
	for i, l := range losses {
		pts = append(pts, fmt.Sprintf("%.1f,%.1f", sx.at(xs[i]), sy.at(l)))
	}
	c.Lines = append(c.Lines, polyline{Points: strings.Join(pts, " "), Class: "loss-line"})
	return c
}

// classColour is the fill of a LIV class in the strip and the class bars:
// one hue per family, darker for differential variants.
func classColour(id int) string {
	colours := map[int]string{
		1: "#d1495b", 2: "#e07a5f", 3: "#c0392b", 4: "#f28482",
		5: "#2e86de", 6: "#54a0ff", 7: "#10ac84", 8: "#1dd1a1",
		9: "#8e7dbe", 10: "#8c2f39", 11: "#a0522d", 12: "#7b241c", 13: "#b5525c",
		14: "#1b4f72", 15: "#2874a6", 16: "#0b6e4f", 17: "#148f77", 18: "#e1a100",
	}
	if c, ok := colours[id]; ok {
		return c
	}
	return "#999999"
}

// strip is the backbone drawn as a row of slots with sharing arcs.
type strip struct {
	W, H    float64
	SlotY   float64
	SlotH   float64
	Slots   []stripSlot
	Arcs    []arc
	Legend  []legendEntry
	Labels  bool // names fit inside the slots
	Message string
}

type stripSlot struct {
	Index      int
	X, W       float64
	CX         float64
	Colour     string
	Name       string
	Title      string
	Family     string
	ClassID    int
	LabelY     float64
	IndexLabel float64
}

// arc joins the slot that owns weights or features (From) to a slot that
// uses them.
type arc struct {
	Path  string
	Kind  string // feat, B, C or BC
	Label string
	LX    float64
	LY    float64
	Title string
}

type legendEntry struct {
	Colour, Name string
}

// backboneStrip lays out g's slots left to right (input to output), with
// featurizer-sharing arcs above and feature-group-sharing arcs below.
func backboneStrip(g genome.Genome) *strip {
	n := len(g)
	sw := math.Min(110, 1020/float64(max(n, 1)))
	s := &strip{W: 20 + sw*float64(n), SlotH: 56, Labels: sw >= 58}
	wiring := g.Wiring()
	if len(wiring) != n {
		wiring = nil
	}
	type link struct {
		from, to    int
		kind, label string
		title       string
	}
	var above, below []link
	for i, w := range wiring {
		if w.FeatOwner != i && inRange(w.FeatOwner, n) {
			above = append(above, link{w.FeatOwner, i, "feat", "W",
				fmt.Sprintf("slot %d ties its featurizer weights to slot %d", i, w.FeatOwner)})
		}
		b, c := w.BSource != i && inRange(w.BSource, n), w.CSource != i && inRange(w.CSource, n)
		switch {
		case b && c && w.BSource == w.CSource:
			below = append(below, link{w.BSource, i, "BC", "B+C",
				fmt.Sprintf("slot %d reuses B and C computed by slot %d", i, w.BSource)})
		default:
			if b {
				below = append(below, link{w.BSource, i, "B", "B",
					fmt.Sprintf("slot %d reuses B computed by slot %d", i, w.BSource)})
			}
			if c {
				below = append(below, link{w.CSource, i, "C", "C",
					fmt.Sprintf("slot %d reuses C computed by slot %d", i, w.CSource)})
			}
		}
	}
	tallest := func(ls []link) float64 {
		h := 0.0
		for _, l := range ls {
			h = math.Max(h, arcHeight(math.Abs(float64(l.to-l.from))))
		}
		return h
	}
	s.SlotY = 24 + tallest(above) + 16
	bottom := s.SlotY + s.SlotH
	s.H = bottom + 20 + tallest(below) + 8
	seen := map[int]bool{}
	for i, sl := range g {
		ci := classOf(sl.Class)
		x := 10 + float64(i)*sw
		s.Slots = append(s.Slots, stripSlot{Index: i, X: x + 2, W: sw - 4, CX: x + sw/2, Colour: classColour(sl.Class),
			Name: ci.Name, Family: ci.Family, ClassID: sl.Class, LabelY: s.SlotY + s.SlotH/2 + 4,
			IndexLabel: bottom + 14,
			Title:      fmt.Sprintf("slot %d: %s (%s), genes %s", i, ci.Name, ci.Family, slotText(sl))})
		if !seen[sl.Class] {
			seen[sl.Class] = true
			s.Legend = append(s.Legend, legendEntry{Colour: classColour(sl.Class), Name: ci.Name})
		}
	}
	for _, l := range above {
		s.Arcs = append(s.Arcs, newArc(s.Slots[l.from].CX, s.Slots[l.to].CX, s.SlotY, -1,
			arcHeight(float64(l.to-l.from)), l.kind, l.label, l.title))
	}
	for _, l := range below {
		// Below the strip the arcs start under the index labels.
		s.Arcs = append(s.Arcs, newArc(s.Slots[l.from].CX, s.Slots[l.to].CX, bottom+18, 1,
			arcHeight(float64(l.to-l.from)), l.kind, l.label, l.title))
	}
	return s
}

// arcHeight is how far an arc spanning slots slots bulges.
func arcHeight(slots float64) float64 {
	return math.Min(80, 14+math.Abs(slots)*9)
}

func inRange(i, n int) bool { return i >= 0 && i < n }

// newArc returns a quadratic arc from x1 to x2 on the line y, bulging h
// pixels upwards (dir -1) or downwards (dir 1).
func newArc(x1, x2, y, dir, h float64, kind, label, title string) arc {
	mid := (x1 + x2) / 2
	return arc{Path: fmt.Sprintf("M%.1f %.1fQ%.1f %.1f %.1f %.1f", x1, y, mid, y+dir*h*2, x2, y), Kind: kind,
		Label: label, LX: mid, LY: y + dir*(h+6) + 4, Title: title}
}

func slotText(s genome.Slot) string {
	g := s.Genes()
	var parts []string
	for _, v := range g {
		parts = append(parts, strconv.Itoa(v))
	}
	return strings.Join(parts, ".")
}

// classOf names a class id, tolerating ids the registry does not know.
func classOf(id int) runview.ClassInfo {
	c, err := genome.LookupClass(id)
	if err != nil {
		return runview.ClassInfo{ID: id, Name: fmt.Sprintf("class %d", id), Family: "unknown"}
	}
	return runview.ClassInfo{ID: id, Name: c.Name, Family: c.Family.String()}
}

// classBars is the class chart of one generation: per class, a bar for its
// share of the population's slots and one for its share of the front's.
type classBars struct {
	W, H  float64
	Rows  []classBarRow
	Ticks []tick
	Left  float64
	Right float64
}

type classBarRow struct {
	Y           float64
	Name        string
	Colour      string
	PopW, FrW   float64
	PopLabel    string
	FrontLabel  string
	PopTitle    string
	FrontTitle  string
	LabelY      float64
	FrontY      float64
	BarH        float64
	PopLabelX   float64
	FrontLabelX float64
}

func classChart(d runview.ClassData, g runview.GenerationClasses) *classBars {
	const left, right, rowH = 110.0, 620.0, 34.0
	b := &classBars{W: 680, H: 30 + rowH*float64(len(d.Classes)), Left: left, Right: right}
	top := 0.0
	for _, c := range d.Classes {
		top = math.Max(top, math.Max(g.PopulationShare(c.ID), g.FrontShare(c.ID)))
	}
	ticks, _, thi := niceTicks(0, math.Max(top, 0.05), 4, false)
	x := scale{lo: 0, hi: thi, pixLo: left, pixHi: right}
	for _, v := range ticks {
		b.Ticks = append(b.Ticks, tick{Pos: x.at(v), Label: fmt.Sprintf("%.0f%%", v*100)})
	}
	for i, c := range d.Classes {
		y := 8 + float64(i)*rowH
		ps, fs := g.PopulationShare(c.ID), g.FrontShare(c.ID)
		row := classBarRow{Y: y, Name: c.Name, Colour: classColour(c.ID), BarH: 12, LabelY: y + 17, FrontY: y + 13,
			PopW: x.at(ps) - left, FrW: x.at(fs) - left,
			PopLabel: fmt.Sprintf("%.0f%%", ps*100), FrontLabel: fmt.Sprintf("%.0f%%", fs*100),
			PopTitle:   fmt.Sprintf("%s: %.1f%% of population slots", c.Name, ps*100),
			FrontTitle: fmt.Sprintf("%s: %.1f%% of front slots", c.Name, fs*100)}
		row.PopLabelX, row.FrontLabelX = left+row.PopW+4, left+row.FrW+4
		b.Rows = append(b.Rows, row)
	}
	return b
}
