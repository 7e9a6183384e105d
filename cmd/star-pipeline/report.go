package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/storage"
	"github.com/star-pipeline/star-pipeline/study"
)

func init() { register(reportCommand()) }

func reportCommand() *cli.Command {
	return &cli.Command{
		Name:      "report",
		Usage:     "compare a run's final stage with its baselines: the STAR table (retrained architectures, costs, quality over seeds, dominance)",
		ArgsUsage: "RUN_ID",
		UsageText: "star-pipeline report r20240501-1\nstar-pipeline report r20240501-1 --markdown > report.md\nstar-pipeline report r20240501-1 --json",
		Flags: []cli.Flag{dbFlag(), jsonFlag(),
			&cli.BoolFlag{Name: "markdown", Usage: "print the table as Markdown", EnvVars: []string{"STAR_MARKDOWN"}}},
		Action: reportAction,
	}
}

func reportAction(c *cli.Context) error {
	id, err := oneArg(c, "RUN_ID", runHint)
	if err != nil {
		return err
	}
	if c.Bool("json") && c.Bool("markdown") {
		return badInput("--json and --markdown exclude each other")
	}
	db, err := openDB(c)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := study.Load(c.Context, db, id)
	switch {
	case errors.Is(err, storage.ErrNotFound):
		return badInput("no run %s in DB %s; %s", id, db.Path(), runHint)
	case errors.Is(err, study.ErrNoFinalStage):
		return badInput("%v", err)
	case err != nil:
		return err
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, rep)
	}
	return printReport(w, rep, c.Bool("markdown"))
}

// printReport prints the comparison table and the notes under it.
func printReport(w io.Writer, rep study.Report, markdown bool) error {
	var baselines []string
	for _, r := range rep.Rows {
		if r.Role == storage.RoleBaseline {
			baselines = append(baselines, r.Name)
		}
	}
	quality := measuredColumns(rep)
	mad := madColumns(rep)
	header := []string{"architecture", "genome", "params", "cache_bytes"}
	for _, q := range quality {
		header = append(header, q+" (mean ± sd)")
	}
	for _, m := range mad {
		header = append(header, m)
	}
	for _, b := range baselines {
		header = append(header, "vs "+b)
	}
	var rows [][]string
	for _, r := range rep.Rows {
		name := r.Name
		if len(r.Aliases) > 0 {
			name += " (" + strings.Join(r.Aliases, ", ") + ")"
		}
		row := []string{name, r.Genome, staticCell(r, config.Params), staticCell(r, config.CacheBytes)}
		for _, q := range quality {
			row = append(row, statCell(r.Values[q], r.Failed))
		}
		for _, m := range mad {
			row = append(row, statCell(r.MAD[m], 0))
		}
		for _, b := range baselines {
			row = append(row, versusCell(r, b, rep.Objectives))
		}
		rows = append(rows, row)
	}
	var err error
	if markdown {
		err = markdownTable(w, header, rows)
	} else {
		t := newTable(w, header...)
		for _, row := range rows {
			t.row(toAny(row)...)
		}
		err = t.flush()
	}
	if err != nil {
		return err
	}
	return printReportNotes(w, rep, baselines, markdown)
}

// measuredColumns are the measured objectives any row has, in the order of
// config.Objectives.
func measuredColumns(rep study.Report) []string {
	var out []string
	for _, o := range config.Objectives {
		if !study.IsMeasured(o) {
			continue
		}
		for _, r := range rep.Rows {
			if _, ok := r.Values[o]; ok {
				out = append(out, o)
				break
			}
		}
	}
	return out
}

// madColumns are the MAD tasks any row was scored on, sorted.
func madColumns(rep study.Report) []string {
	var out []string
	for _, r := range rep.Rows {
		for k := range r.MAD {
			if !slices.Contains(out, k) {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

func staticCell(r study.Row, o string) string {
	v, ok := r.Values[o]
	if !ok || v.N == 0 {
		return "-"
	}
	return formatObjective(v.Mean)
}

// statCell prints "mean ± sd (n)", with the failed seeds if any.
func statCell(s study.Stat, failed int) string {
	if s.N == 0 {
		if failed > 0 {
			return fmt.Sprintf("failed (%d)", failed)
		}
		return "-"
	}
	out := fmt.Sprintf("%.4g ± %.2g (n=%d)", s.Mean, s.SD, s.N)
	if failed > 0 {
		out += fmt.Sprintf(", %d failed", failed)
	}
	return out
}

// versusCell prints the change against baseline b on the run's objectives
// and whether r dominates it.
func versusCell(r study.Row, b string, objectives []string) string {
	if r.Name == b {
		return "-"
	}
	i := slices.IndexFunc(r.Versus, func(c study.Comparison) bool { return c.Baseline == b })
	if i < 0 {
		return "-"
	}
	c := r.Versus[i]
	var parts []string
	for _, o := range objectives {
		if ch, ok := c.Change[o]; ok {
			parts = append(parts, fmt.Sprintf("%s %+.1f%%", short(o), ch))
		}
	}
	verdict := "no"
	if c.Dominates {
		verdict = "DOMINATES"
	}
	if len(parts) == 0 {
		return verdict
	}
	return verdict + ": " + strings.Join(parts, ", ")
}

// short abbreviates an objective name for table cells.
func short(o string) string {
	switch o {
	case config.Perplexity:
		return "ppl"
	case config.CacheBytes:
		return "cache"
	case config.MADScore:
		return "mad"
	}
	return o
}

func markdownTable(w io.Writer, header []string, rows [][]string) error {
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	line := func(cells []string) string {
		out := make([]string, len(cells))
		for i, c := range cells {
			out[i] = esc(c)
		}
		return "| " + strings.Join(out, " | ") + " |\n"
	}
	var b strings.Builder
	b.WriteString(line(header))
	sep := make([]string, len(header))
	for i := range sep {
		sep[i] = "---"
	}
	b.WriteString(line(sep))
	for _, r := range rows {
		b.WriteString(line(r))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func printReportNotes(w io.Writer, rep study.Report, baselines []string, markdown bool) error {
	var b strings.Builder
	bullet := ""
	if markdown {
		bullet = "- "
	}
	note := func(format string, args ...any) { fmt.Fprintf(&b, bullet+format+"\n", args...) }
	b.WriteString("\n")
	status := "complete"
	if !rep.Complete {
		status = "INCOMPLETE: retrainings are still pending (run status " + rep.Status + ")"
	}
	note("final stage: %d architectures x %d seeds, %d steps each (search: %d steps); %s",
		len(rep.Rows), rep.Seeds, rep.Steps, rep.SearchStep, status)
	evolved := 0
	for _, r := range rep.Rows {
		if r.Role == storage.RoleCandidate {
			evolved++
		}
	}
	for _, bl := range baselines {
		note("evolved architectures that dominate %s on %s: %d of %d", bl, strings.Join(rep.Objectives, ", "),
			rep.Dominating[bl], evolved)
	}
	var hv []string
	for _, g := range rep.Hypervolume {
		v := "-"
		if g.Hypervolume != nil {
			v = fmt.Sprintf("%.4f", *g.Hypervolume)
		}
		hv = append(hv, fmt.Sprintf("%d: %s", g.Index, v))
	}
	note("hypervolume per generation: %s", strings.Join(hv, ", "))
	note("spent: search %d trainings (%d cache hits), %d train steps; final %d retrainings, %d train steps",
		rep.Search.Trainings, rep.Search.CacheHits, rep.Search.TrainSteps, rep.Final.Trainings, rep.Final.TrainSteps)
	switch {
	case rep.ProxyObjective == "":
		note("proxy check: no measured objective")
	case rep.Proxy == nil:
		note("proxy check (%s): %d architectures with a short-budget result; 3 are needed", rep.ProxyObjective, rep.ProxyN)
	default:
		note("proxy check: Spearman rank correlation %.3f between short-budget and final %s over %d architectures",
			*rep.Proxy, rep.ProxyObjective, rep.ProxyN)
	}
	for _, r := range rep.Rows {
		for _, e := range r.Errors {
			note("%s: a retraining failed: %s", r.Name, e)
		}
	}
	note("rule: %s", rep.Rule)
	_, err := io.WriteString(w, b.String())
	return err
}
