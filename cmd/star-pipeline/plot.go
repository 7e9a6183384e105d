package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
	gplot "gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/plot"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
)

func init() { register(plotCommand()) }

// Kinds of plot.
var plotKinds = []string{"pareto", "hypervolume", "classes", "final"}

func plotCommand() *cli.Command {
	return &cli.Command{
		Name:      "plot",
		Usage:     "draw a run's Pareto front, hypervolume or LIV classes to a PNG or SVG file",
		ArgsUsage: "RUN_ID",
		UsageText: "star-pipeline plot r20261126-193000-ab12cd --kind pareto --x mad_score --y params --out front.png\n" +
			"star-pipeline plot r20261126-193000-ab12cd --kind hypervolume --out hv.svg\n" +
			"star-pipeline plot r20261126-193000-ab12cd --kind classes --generation 3 --out classes.png --json\n" +
			"star-pipeline plot r20261126-193000-ab12cd --kind final --x cache_bytes --out final.png",
		Flags: []cli.Flag{
			dbFlag(),
			&cli.StringFlag{Name: "kind", Usage: "what to draw: " + strings.Join(plotKinds, ", "),
				EnvVars: []string{"STAR_PLOT_KIND"}},
			&cli.StringFlag{Name: "out", Usage: "output file; .png or .svg chooses the format", TakesFile: true},
			&cli.StringFlag{Name: "x", Usage: "pareto: objective on the x axis, or generation (default: the run's first objective); " +
				"final: params or cache_bytes (default: the run's, else params)"},
			&cli.StringFlag{Name: "y", Usage: "pareto: objective on the y axis (default: the run's second objective); " +
				"final: a measured objective (default: the run's first)"},
			&cli.IntFlag{Name: "generation", Value: -1, Usage: "classes: generation to draw (default: the last)"},
			&cli.IntFlag{Name: "width", Value: 800, Usage: "image width in pixels (at 96 dpi)", EnvVars: []string{"STAR_PLOT_WIDTH"}},
			&cli.IntFlag{Name: "height", Value: 560, Usage: "image height in pixels (at 96 dpi)", EnvVars: []string{"STAR_PLOT_HEIGHT"}},
			jsonFlag(),
		},
		Action: plotAction,
	}
}

func plotAction(c *cli.Context) error {
	id, err := oneArg(c, "RUN_ID", runHint)
	if err != nil {
		return err
	}
	if err := checkPlotFlags(c); err != nil {
		return err
	}
	db, err := openDB(c)
	if err != nil {
		return err
	}
	defer db.Close()
	r, err := getRun(c.Context, db, id)
	if err != nil {
		return err
	}
	kind, out := c.String("kind"), c.String("out")
	p, data, err := plotDrawers[kind](c, db, r)
	if err != nil {
		return err
	}
	px := vg.Inch / 96
	if err := plot.Save(p, out, vg.Length(c.Int("width"))*px, vg.Length(c.Int("height"))*px); err != nil {
		return err
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Kind string `json:"kind"`
			Run  string `json:"run"`
			Out  string `json:"out"`
			Data any    `json:"data"`
		}{kind, id, out, data})
	}
	_, err = fmt.Fprintf(c.App.Writer, "wrote %s (%s of run %s)\n", out, kind, id)
	return err
}

// checkPlotFlags checks the flags of plot before anything is read.
func checkPlotFlags(c *cli.Context) error {
	kind := c.String("kind")
	if !slices.Contains(plotKinds, kind) {
		return badInput("--kind %q: want one of %s", kind, strings.Join(plotKinds, ", "))
	}
	out := c.String("out")
	if out == "" {
		return badInput("missing --out FILE.png or FILE.svg")
	}
	if _, err := plot.Format(out); err != nil {
		return badInput("--out %s: %w", out, err)
	}
	if kind != "pareto" && kind != "final" && (c.IsSet("x") || c.IsSet("y")) {
		return badInput("--x and --y apply to --kind pareto and final only")
	}
	if kind != "classes" && c.IsSet("generation") {
		return badInput("--generation applies to --kind classes only")
	}
	w, h := c.Int("width"), c.Int("height")
	if w < 100 || h < 100 || w > 10000 || h > 10000 {
		return badInput("--width %d --height %d: each must be between 100 and 10000 pixels", w, h)
	}
	return nil
}

// plotDrawer reads the data of one kind of plot of run r and draws it.
type plotDrawer func(c *cli.Context, db *storage.DB, r storage.Run) (*gplot.Plot, any, error)

var plotDrawers = map[string]plotDrawer{
	"pareto": drawPareto, "hypervolume": drawHypervolume, "final": drawFinal, "classes": drawClasses,
}

func drawPareto(c *cli.Context, db *storage.DB, r storage.Run) (*gplot.Plot, any, error) {
	x, y := runview.DefaultAxes(r)
	if c.IsSet("x") {
		x = c.String("x")
	}
	if c.IsSet("y") {
		y = c.String("y")
	}
	axes := runview.Axes(r)
	for _, a := range []string{x, y} {
		if !slices.Contains(axes, a) {
			return nil, nil, badInput("objective %q: run %s has %s", a, r.ID, strings.Join(axes, ", "))
		}
	}
	d, err := runview.Pareto(c.Context, db, r.ID, x, y)
	if err != nil {
		return nil, nil, err
	}
	p, err := plot.ParetoPlot(d)
	return p, d, err
}

func drawHypervolume(c *cli.Context, db *storage.DB, r storage.Run) (*gplot.Plot, any, error) {
	hv, err := runview.Hypervolume(c.Context, db, r.ID)
	if err != nil {
		return nil, nil, err
	}
	p, err := plot.HypervolumePlot(r.ID, hv)
	return p, hv, err
}

func drawFinal(c *cli.Context, db *storage.DB, r storage.Run) (*gplot.Plot, any, error) {
	rep, err := study.Load(c.Context, db, r.ID)
	if errors.Is(err, study.ErrNoFinalStage) {
		return nil, nil, badInput("%v", err)
	}
	if err != nil {
		return nil, nil, err
	}
	x, y, err := finalAxes(rep, c.String("x"), c.String("y"))
	if err != nil {
		return nil, nil, err
	}
	p, err := plot.FinalPlot(rep, x, y)
	return p, rep, err
}

func drawClasses(c *cli.Context, db *storage.DB, r storage.Run) (*gplot.Plot, any, error) {
	d, err := runview.Classes(c.Context, db, r.ID)
	if err != nil {
		return nil, nil, err
	}
	g := c.Int("generation")
	if g >= 0 && !slices.ContainsFunc(d.Generations, func(gc runview.GenerationClasses) bool { return gc.Generation == g }) {
		if len(d.Generations) == 0 {
			return nil, nil, badInput("--generation %d: run %s has no candidates yet", g, r.ID)
		}
		return nil, nil, badInput("--generation %d: run %s has generations %d to %d", g, r.ID, d.Generations[0].Generation,
			d.Generations[len(d.Generations)-1].Generation)
	}
	p, err := plot.ClassesPlot(d, g)
	return p, d, err
}

// finalAxes checks or picks the axes of a final-stage plot: x a static
// cost, y a measured objective.
func finalAxes(rep study.Report, x, y string) (string, string, error) {
	if x == "" {
		x = config.Params
		for _, o := range rep.Objectives {
			if o == config.Params || o == config.CacheBytes {
				x = o
				break
			}
		}
	}
	if y == "" {
		for _, o := range rep.Objectives {
			if study.IsMeasured(o) {
				y = o
				break
			}
		}
	}
	if x != config.Params && x != config.CacheBytes {
		return "", "", badInput("--x %q: a final-stage plot puts params or cache_bytes on the x axis", x)
	}
	if !study.IsMeasured(y) {
		return "", "", badInput("--y %q: want a measured objective (perplexity, mad_score or latency) of run %s", y, rep.Run)
	}
	return x, y, nil
}
