package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/trainer"
)

func init() { registerBench(benchDecodeCommand()) }

func benchDecodeCommand() *cli.Command {
	return &cli.Command{
		Name:  "decode",
		Usage: "measure cached decoding: prefill tokens/s, ms per token at several context positions, cache bytes",
		UsageText: `star-pipeline bench decode [GENOME...] [--preset NAME]... [--depth N] [--width W] [--positions 128,512,2048] [--steps S] [--backend SPEC] [--json]

Times incremental decoding at batch 1 for transformer++ and striped at
--depth (always), then each GENOME and --preset given, side by side, with
random weights at width W and vocabulary 256. For each context position P
it prefills a random prompt (timed on a second run, compilation excluded),
then decodes --warmup untimed steps and --steps timed ones ending just
below P, and prints their median. The caches are sized for the largest position; their measured
bytes there (float32) are printed beside arch's cache_bytes for fp32.

Examples:
  star-pipeline bench decode
  star-pipeline bench decode 17.1.1.1.1-15.2.1.2.1-16.3.1.3.1-94141-55151-66161-77171-98181 --width 256 --json`,
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "preset", Usage: "another preset to time (repeatable)", EnvVars: []string{"STAR_PRESET"}},
			&cli.IntFlag{Name: "depth", Value: 8, Usage: "slots of the presets", EnvVars: []string{"STAR_DEPTH"}},
			&cli.IntFlag{Name: "width", Value: 256, Usage: "model width", EnvVars: []string{"STAR_WIDTH"}},
			&cli.StringFlag{Name: "positions", Value: "128,512,2048", Usage: "context positions, comma-separated (powers of two time best)", EnvVars: []string{"STAR_POSITIONS"}},
			&cli.IntFlag{Name: "steps", Value: 8, Usage: "timed decoding steps per position", EnvVars: []string{"STAR_STEPS"}},
			&cli.IntFlag{Name: "warmup", Value: 2, Usage: "untimed steps before them (the first compiles)", EnvVars: []string{"STAR_WARMUP"}},
			&cli.Uint64Flag{Name: "seed", Value: 1, Usage: "seed of the weights and prompts", EnvVars: []string{"STAR_SEED"}},
			&cli.StringFlag{Name: "backend", Usage: "go, go:<options> or xla:<PJRT plugin path> (default $GOMLX_BACKEND, else go)", EnvVars: []string{"STAR_BACKEND"}},
			jsonFlag(),
		},
		Action: benchDecode,
	}
}

// benchDecodeRow is one architecture of bench decode.
type benchDecodeRow struct {
	Name string `json:"name"`
	trainer.DecodeBench
}

// parsePositions parses --positions: ascending, distinct, each in 4..max.
func parsePositions(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 4 || p > arch.MaxContext {
			return nil, badInput("--positions: %q is not a position in 4..%d", f, arch.MaxContext)
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func benchDecode(c *cli.Context) error {
	args, err := commandArgs(c) // first: it applies the flags written after the arguments
	if err != nil {
		return err
	}
	positions, err := parsePositions(c.String("positions"))
	if err != nil {
		return err
	}
	if err := checkIntFlags(c, intRange{"depth", 1, genome.MaxDepth}, intRange{"width", 1, arch.MaxWidth},
		intRange{"steps", 1, 10000}, intRange{"warmup", 1, 10000}); err != nil {
		return err
	}
	steps, warm := c.Int("steps"), c.Int("warmup")
	if positions[0]-1-warm-steps < 1 {
		return badInput("--positions: %d leaves no prompt before %d warm-up and %d timed steps", positions[0], warm, steps)
	}
	depth := c.Int("depth")
	type named struct {
		name string
		g    genome.Genome
	}
	var archs []named
	presets := append([]string{"transformer++", "striped"}, c.StringSlice("preset")...)
	for _, p := range presets {
		g, err := genome.Preset(p, depth)
		if err != nil {
			return badInput("--preset %s: %w", p, err)
		}
		if !slices.ContainsFunc(archs, func(n named) bool { return n.name == p }) {
			archs = append(archs, named{p, g})
		}
	}
	for i, a := range args {
		g, err := genomeArg(a)
		if err != nil {
			return err
		}
		if err := genome.Validate(g, genome.Space{}); err != nil {
			return badInput("genome %s: %w", a, err)
		}
		archs = append(archs, named{fmt.Sprintf("genome-%d", i+1), g})
	}
	backend, err := newBackend(c.String("backend"))
	if err != nil {
		return err
	}
	defer backend.Finalize()
	dims := arch.Config{Width: c.Int("width")}
	var rows []benchDecodeRow
	for _, a := range archs {
		fmt.Fprintf(c.App.ErrWriter, "bench decode: %s (%s) at width %d, positions %v\n", a.name, a.g, dims.Width, positions)
		b, err := trainer.BenchDecode(c.Context, backend, a.g, dims, positions, warm, steps, c.Uint64("seed"))
		if err != nil {
			return benchErr(fmt.Errorf("%s: %w", a.name, err))
		}
		rows = append(rows, benchDecodeRow{Name: a.name, DecodeBench: b})
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, rows)
	}
	header := []string{"architecture", "genome", "params"}
	for _, p := range positions {
		header = append(header, fmt.Sprintf("ms/token@%d", p))
	}
	header = append(header, fmt.Sprintf("prefill tok/s@%d", positions[len(positions)-1]), "cache bytes (measured)", "cache bytes (arch, fp32)")
	t := newTable(c.App.Writer, header...)
	for _, r := range rows {
		cells := []any{r.Name, r.Genome, r.Params}
		for _, tm := range r.Timings {
			cells = append(cells, fmt.Sprintf("%.2f", tm.MsPerToken))
		}
		last := r.Timings[len(r.Timings)-1]
		cells = append(cells, fmt.Sprintf("%.0f", last.PrefillTokensPerS), r.CacheBytes, r.PredictedCacheBytes)
		t.row(cells...)
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err = fmt.Fprintf(c.App.Writer, "\nbatch 1, width %d, vocab 256; ms/token: median of %d timed steps per position after %d untimed; %s\n",
		dims.Width, steps, warm, backend.Description())
	return err
}
