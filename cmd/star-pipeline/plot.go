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

	db, err := openDB(c)
	if err != nil {
		return err
	}
	defer db.Close()
	ctx := c.Context
	r, err := getRun(ctx, db, id)
	if err != nil {
		return err
	}

	var p *gplot.Plot
	var data any
	switch kind {
	case "pareto":
		x, y := runview.DefaultAxes(r)
		if c.IsSet("x") {
			x = c.String("x")
		}
		if c.IsSet("y") {
			y = c.String("y")
		}
		for _, a := range []string{x, y} {
			if !slices.Contains(runview.Axes(r), a) {
				return badInput("objective %q: run %s has %s", a, id, strings.Join(runview.Axes(r), ", "))
			}
		}
		d, err := runview.Pareto(ctx, db, id, x, y)
		if err != nil {
			return err
		}
		data = d
		if p, err = plot.ParetoPlot(d); err != nil {
			return err
		}
	case "hypervolume":
		hv, err := runview.Hypervolume(ctx, db, id)
		if err != nil {
			return err
		}
		data = hv
		if p, err = plot.HypervolumePlot(id, hv); err != nil {
			return err
		}
	case "final":
		rep, err := study.Load(ctx, db, id)
		if errors.Is(err, study.ErrNoFinalStage) {
			return badInput("%v", err)
		}
		if err != nil {
			return err
		}
		x, y, err := finalAxes(rep, c.String("x"), c.String("y"))
		if err != nil {
			return err
		}
		data = rep
		if p, err = plot.FinalPlot(rep, x, y); err != nil {
			return err
		}
	case "classes":
		d, err := runview.Classes(ctx, db, id)
		if err != nil {
			return err
		}
		g := c.Int("generation")
		if g >= 0 && !slices.ContainsFunc(d.Generations, func(gc runview.GenerationClasses) bool { return gc.Generation == g }) {
			if len(d.Generations) == 0 {
				return badInput("--generation %d: run %s has no candidates yet", g, id)
			}
			return badInput("--generation %d: run %s has generations %d to %d", g, id, d.Generations[0].Generation,
				d.Generations[len(d.Generations)-1].Generation)
		}
		data = d
		if p, err = plot.ClassesPlot(d, g); err != nil {
			return err
		}
	}
	px := vg.Inch / 96
	if err := plot.Save(p, out, vg.Length(w)*px, vg.Length(h)*px); err != nil {
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
