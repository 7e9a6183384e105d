package main

import (
	"errors"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

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

// printReport prints the comparison table (aligned columns or Markdown)
// and the notes under it.
func printReport(w io.Writer, rep study.Report, markdown bool) error {
	header, rows := rep.Table()
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
	bullet := ""
	if markdown {
		bullet = "- "
	}
	var b strings.Builder
	b.WriteString("\n")
	for _, n := range rep.Notes() {
		b.WriteString(bullet + n + "\n")
	}
	_, err = io.WriteString(w, b.String())
	return err
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
