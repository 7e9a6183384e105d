package main

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

func init() { register(genomeCommand()) }

// genomeRandStream is the second PCG word of every seeded genome command, so
// that a seed means the same stream in every one of them.
const genomeRandStream = 0x53544152 // "STAR"

func genomeCommand() *cli.Command {
	return &cli.Command{
		Name:  "genome",
		Usage: "inspect, cost and vary backbone genomes",
		Description: "A genome has one 5-gene block per LIV slot, joined by '-': class, feat_group, " +
			"feat_strategy, share_group, share_strategy (e.g. 11111-92121; 10.1.1.1.1 when a gene exceeds 9).",
		Subcommands: []*cli.Command{
			genomeShowCommand(),
			genomeCostCommand(),
			genomeMutateCommand(),
			genomeCrossoverCommand(),
			genomeRepairCommand(),
			genomeRandomCommand(),
		},
	}
}

// jsonFlag returns a fresh --json flag; every command that prints results
// has one.
func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print JSON", EnvVars: []string{"STAR_JSON"}}
}

// Flags of the genome commands; each call returns a fresh flag.
func genomePresetFlag() cli.Flag {
	return &cli.StringFlag{Name: "preset", Usage: "seed genome: " + strings.Join(genome.PresetNames(), " or "),
		EnvVars: []string{"STAR_PRESET"}}
}

func genomeDepthFlag() cli.Flag {
	return &cli.IntFlag{Name: "depth", Usage: fmt.Sprintf("number of LIV slots (at most %d)", genome.MaxDepth), EnvVars: []string{"STAR_DEPTH"}}
}

// intFlagIn returns the int flag name after checking that it lies in
// lo..hi, hi one of the limits of docs/limits.md, so that no size reaches
// the code that allocates or loops for it unchecked.
func intFlagIn(c *cli.Context, name string, lo, hi int) (int, error) {
	v := c.Int(name)
	if v < lo || v > hi {
		return v, badInput("--%s must be in %d..%d, got %d (limits: docs/limits.md)", name, lo, hi, v)
	}
	return v, nil
}

// intRange is a flag and its allowed range.
type intRange struct {
	name   string
	lo, hi int
}

// checkIntFlags checks every flag of rs with intFlagIn.
func checkIntFlags(c *cli.Context, rs ...intRange) error {
	for _, r := range rs {
		if _, err := intFlagIn(c, r.name, r.lo, r.hi); err != nil {
			return err
		}
	}
	return nil
}

func genomeClassesFlag() cli.Flag {
	return &cli.StringFlag{Name: "classes", Usage: "allowed LIV classes, ids or names (e.g. 1,5,9); default all",
		EnvVars: []string{"STAR_CLASSES"}}
}

func genomeSeedFlag() cli.Flag {
	return &cli.Uint64Flag{Name: "seed", Usage: "random seed (required)", EnvVars: []string{"STAR_SEED"}}
}

func genomeShowCommand() *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "print a genome slot by slot after repair, with its canonical text and hash",
		ArgsUsage: "[GENOME]",
		UsageText: "star-pipeline genome show 11111-92121\n" +
			"star-pipeline genome show --preset striped --depth 8 --json",
		Flags:  []cli.Flag{genomePresetFlag(), genomeDepthFlag(), jsonFlag()},
		Action: genomeShow,
	}
}

func genomeCostCommand() *cli.Command {
	def := arch.Config{}.WithDefaults()
	return &cli.Command{
		Name:      "cost",
		Usage:     "print parameters, inference cache and FLOPs of a genome",
		ArgsUsage: "[GENOME]",
		UsageText: "star-pipeline genome cost 51111-92121 --width 64 --context 256\n" +
			"star-pipeline genome cost --preset transformer++ --depth 48 --width 2048 --context 4096 --dtype bf16 --json",
		Flags: []cli.Flag{
			genomePresetFlag(), genomeDepthFlag(),
			&cli.IntFlag{Name: "width", Value: def.Width, Usage: "model width", EnvVars: []string{"STAR_WIDTH"}},
			&cli.IntFlag{Name: "context", Value: def.Context, Usage: "context length L", EnvVars: []string{"STAR_CONTEXT"}},
			&cli.StringFlag{Name: "dtype", Value: string(def.DType), Usage: "cache dtype: bf16, fp16 or fp32", EnvVars: []string{"STAR_DTYPE"}},
			&cli.IntFlag{Name: "vocab", Value: def.Vocab, Usage: "vocabulary size", EnvVars: []string{"STAR_VOCAB"}},
			&cli.IntFlag{Name: "head-dim", Usage: "head dimension (default 16 below width 256, else 64)", EnvVars: []string{"STAR_HEAD_DIM"}},
			&cli.BoolFlag{Name: "untie-embedding", Usage: "give the head its own weights", EnvVars: []string{"STAR_UNTIE_EMBEDDING"}},
			jsonFlag(),
		},
		Action: genomeCost,
	}
}

func genomeMutateCommand() *cli.Command {
	return &cli.Command{
		Name:      "mutate",
		Usage:     "print a mutant of a genome (each gene redrawn with probability --rate, then repaired)",
		ArgsUsage: "GENOME",
		UsageText: "star-pipeline genome mutate 51111-92121-53131-94141 --seed 7 --rate 0.2",
		Flags: []cli.Flag{
			genomeSeedFlag(),
			&cli.Float64Flag{Name: "rate", Value: genome.DefaultMutationRate, Usage: "per-gene mutation probability",
				EnvVars: []string{"STAR_MUTATION_RATE"}},
			genomeClassesFlag(), jsonFlag(),
		},
		Action: genomeMutate,
	}
}

func genomeCrossoverCommand() *cli.Command {
	return &cli.Command{
		Name:      "crossover",
		Usage:     "print the two children of a k-point crossover over slots",
		ArgsUsage: "GENOME_A GENOME_B",
		UsageText: "star-pipeline genome crossover 11111-92121-13131-94141 51111-92121-53131-94141 --seed 3",
		Flags: []cli.Flag{
			genomeSeedFlag(),
			&cli.IntFlag{Name: "points", Value: genome.DefaultCrossoverPoints, Usage: "crossover points k",
				EnvVars: []string{"STAR_CROSSOVER_POINTS"}},
			jsonFlag(),
		},
		Action: genomeCrossover,
	}
}

func genomeRepairCommand() *cli.Command {
	return &cli.Command{
		Name:      "repair",
		Usage:     "print the canonical genome: genes clamped into range, sharing made legal, groups renumbered",
		ArgsUsage: "GENOME",
		UsageText: "star-pipeline genome repair 11211-91211\n" +
			"star-pipeline genome repair 21111-71111 --classes 1,5,9",
		Flags:  []cli.Flag{genomeClassesFlag(), jsonFlag()},
		Action: genomeRepair,
	}
}

func genomeRandomCommand() *cli.Command {
	return &cli.Command{
		Name:      "random",
		Usage:     "print a random canonical genome",
		UsageText: "star-pipeline genome random --depth 8 --seed 1 --classes 1,5,9",
		Flags:     []cli.Flag{genomeDepthFlag(), genomeSeedFlag(), genomeClassesFlag(), jsonFlag()},
		Action:    genomeRandom,
	}
}

// commandArgs returns the positional arguments of c and applies the flags
// written after them, so that "genome mutate GENOME --seed 1" and
// "status RUN_ID --json" work: urfave/cli stops parsing flags at the first
// argument. "--" ends flags. Every command with arguments uses it.
func commandArgs(c *cli.Context) ([]string, error) {
	var pos []string
	args := c.Args().Slice()
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			pos = append(pos, a)
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		var flag cli.Flag
		for _, f := range c.Command.Flags {
			for _, n := range f.Names() {
				if n == name {
					flag = f
				}
			}
		}
		if flag == nil {
			return nil, badInput("flag provided but not defined: %s", a)
		}
		if _, isBool := flag.(*cli.BoolFlag); isBool {
			if !hasValue {
				value = "true"
			}
		} else if !hasValue {
			if i+1 >= len(args) {
				return nil, badInput("flag needs an argument: %s", a)
			}
			i++
			value = args[i]
		}
		if err := c.Set(name, value); err != nil {
			return nil, badInput("invalid value %q for flag %s: %w", value, a, err)
		}
	}
	return pos, nil
}

// genomeArg parses a genome given on the command line.
func genomeArg(s string) (genome.Genome, error) {
	g, err := genome.Parse(s)
	if err != nil {
		if len(s) > 80 {
			s = s[:60] + "..." // the error says what is wrong; a huge argument is not repeated
		}
		return nil, badInput("parsing genome %q: %w", s, err)
	}
	return g, nil
}

// genomeInput returns the genome of show and cost: the argument or a preset.
// Genes must be in range; sharing is repaired by the caller.
func genomeInput(c *cli.Context) (genome.Genome, error) {
	args, err := commandArgs(c)
	if err != nil {
		return nil, err
	}
	preset, depth := c.String("preset"), c.Int("depth")
	if c.IsSet("depth") {
		if _, err := intFlagIn(c, "depth", 1, genome.MaxDepth); err != nil {
			return nil, err
		}
	}
	var g genome.Genome
	switch {
	case len(args) > 1:
		return nil, badInput("want one genome, got %d arguments", len(args))
	case len(args) == 1 && preset != "":
		return nil, badInput("give a genome or --preset, not both")
	case len(args) == 1:
		if g, err = genomeArg(args[0]); err != nil {
			return nil, err
		}
		if c.IsSet("depth") && depth != len(g) {
			return nil, badInput("genome has %d slots, --depth is %d", len(g), depth)
		}
	case preset != "":
		if !c.IsSet("depth") {
			return nil, badInput("--preset needs --depth (an even number >= 2)")
		}
		if g, err = genome.Preset(preset, depth); err != nil {
			return nil, badInput("%w", err)
		}
	default:
		return nil, badInput("give a genome (e.g. 11111-92121) or --preset NAME --depth N")
	}
	if err := genome.CheckRanges(g, genome.Space{}); err != nil {
		return nil, badInput("checking genome: %w (genome repair clamps genes into range)", err)
	}
	return g, nil
}

// genomeSpace builds the search space of --classes (ids or names).
func genomeSpace(c *cli.Context, depth int) (genome.Space, error) {
	space := genome.Space{Depth: depth}
	if s := strings.TrimSpace(c.String("classes")); s != "" {
		for _, f := range strings.Split(s, ",") {
			f = strings.TrimSpace(f)
			if id, err := strconv.Atoi(f); err == nil {
				space.Classes = append(space.Classes, id)
				continue
			}
			cl, err := genome.ClassByName(f)
			if err != nil {
				return space, badInput("--classes: %w", err)
			}
			space.Classes = append(space.Classes, cl.ID)
		}
	}
	if err := space.Validate(); err != nil {
		return space, badInput("--classes: %w", err)
	}
	return space, nil
}

func genomeRand(c *cli.Context) (*rand.Rand, error) {
	if !c.IsSet("seed") {
		return nil, badInput("--seed is required (or STAR_SEED)")
	}
	return rand.New(rand.NewPCG(c.Uint64("seed"), genomeRandStream)), nil
}

type genomeSlotRow struct {
	Index         int    `json:"index"`
	Class         int    `json:"class"`
	Name          string `json:"name"`
	Family        string `json:"family"`
	FeatGroup     int    `json:"feat_group"`
	FeatStrategy  int    `json:"feat_strategy"`
	ShareGroup    int    `json:"share_group"`
	ShareStrategy int    `json:"share_strategy"`
	FeatOwner     int    `json:"feat_owner"`
	BSource       int    `json:"b_source"`
	CSource       int    `json:"c_source"`
}

func genomeShow(c *cli.Context) error {
	in, err := genomeInput(c)
	if err != nil {
		return err
	}
	g := genome.Repair(in, genome.Space{})
	wiring := g.Wiring()
	rows := make([]genomeSlotRow, len(g))
	for i, s := range g {
		cl := genome.MustClass(s.Class)
		rows[i] = genomeSlotRow{Index: i, Class: s.Class, Name: cl.Name, Family: cl.Family.String(),
			FeatGroup: s.FeatGroup, FeatStrategy: s.FeatStrategy, ShareGroup: s.ShareGroup, ShareStrategy: s.ShareStrategy,
			FeatOwner: wiring[i].FeatOwner, BSource: wiring[i].BSource, CSource: wiring[i].CSource}
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, struct {
			Genome   genome.Genome   `json:"genome"`
			Hash     string          `json:"hash"`
			Input    genome.Genome   `json:"input"`
			Repaired bool            `json:"repaired"`
			Depth    int             `json:"depth"`
			Slots    []genomeSlotRow `json:"slots"`
		}{g, genome.Hash(g), in, in.String() != g.String(), len(g), rows})
	}
	t := newTable(w, "INDEX", "CLASS", "NAME", "FAMILY", "FEAT", "SHARE", "USES")
	for _, r := range rows {
		t.row(r.Index, r.Class, r.Name, r.Family,
			fmt.Sprintf("%d:%s", r.FeatGroup, featStrategyName(r.FeatStrategy)),
			fmt.Sprintf("%d:%s", r.ShareGroup, shareStrategyName(r.ShareStrategy)),
			usesText(r))
	}
	if err := t.flush(); err != nil {
		return err
	}
	if in.String() != g.String() {
		fmt.Fprintf(c.App.ErrWriter, "star-pipeline: note: %s repaired to %s\n", in, g)
	}
	_, err = fmt.Fprintf(w, "genome %s  hash %s\n", g, genome.Hash(g))
	return err
}

func featStrategyName(s int) string {
	if s == genome.FeatShare {
		return "share"
	}
	return "none"
}

func shareStrategyName(s int) string {
	switch s {
	case genome.ShareB:
		return "B"
	case genome.ShareC:
		return "C"
	case genome.ShareBC:
		return "BC"
	}
	return "none"
}

// usesText says what a slot takes from other slots, or "-".
func usesText(r genomeSlotRow) string {
	var parts []string
	if r.FeatOwner != r.Index {
		parts = append(parts, fmt.Sprintf("weights of %d", r.FeatOwner))
	}
	if r.BSource != r.Index {
		parts = append(parts, fmt.Sprintf("B of %d", r.BSource))
	}
	if r.CSource != r.Index {
		parts = append(parts, fmt.Sprintf("C of %d", r.CSource))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func genomeCost(c *cli.Context) error {
	in, err := genomeInput(c)
	if err != nil {
		return err
	}
	dtype, err := arch.ParseDType(c.String("dtype"))
	if err != nil {
		return badInput("--dtype: %w", err)
	}
	cfg := arch.Config{Width: c.Int("width"), Context: c.Int("context"), Vocab: c.Int("vocab"),
		HeadDim: c.Int("head-dim"), UntieEmbedding: c.Bool("untie-embedding"), DType: dtype}
	if err := checkIntFlags(c, intRange{"width", 1, arch.MaxWidth}, intRange{"context", 1, arch.MaxContext},
		intRange{"vocab", 1, arch.MaxVocab}); err != nil {
		return err
	}
	if cfg.HeadDim < 0 || cfg.HeadDim > arch.MaxWidth {
		return badInput("--head-dim must be in 1..%d (or 0 for the default), got %d", arch.MaxWidth, cfg.HeadDim)
	}
	cfg = cfg.WithDefaults()
	g := genome.Repair(in, genome.Space{})
	costs, err := arch.Costs(g, cfg)
	if err != nil {
		return badInput("costing %s: %w", g, err)
	}
	w := c.App.Writer
	if c.Bool("json") {
		return writeJSON(w, struct {
			Genome genome.Genome `json:"genome"`
			Hash   string        `json:"hash"`
			Config arch.Config   `json:"config"`
			arch.CostReport
		}{g, genome.Hash(g), cfg, costs})
	}
	t := newTable(w, "INDEX", "NAME", "PARAMS", "CACHE_BYTES", "FWD_FLOPS/TOKEN")
	for _, s := range costs.PerSlot {
		t.row(s.Index, s.Name, s.Params, s.CacheBytes, s.ForwardFLOPs)
	}
	t.row("-", "embed/head/final_norm", costs.GlobalParams, 0, 2*int64(cfg.Width)*int64(cfg.Vocab))
	if err := t.flush(); err != nil {
		return err
	}
	f := costs.FLOPs
	_, err = fmt.Fprintf(w, "params %d\ncache_bytes %d (L=%d, %s)\nflops/token forward %d, train %d, inference %d; filters %d per step\n"+
		"genome %s  hash %s\n",
		costs.Params, costs.CacheBytes, cfg.Context, cfg.DType, f.Forward, f.Train, f.Inference, f.FilterForward,
		g, genome.Hash(g))
	return err
}

func genomeMutate(c *cli.Context) error {
	args, err := commandArgs(c)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return badInput("want one genome, got %d arguments", len(args))
	}
	parent, err := genomeArg(args[0])
	if err != nil {
		return err
	}
	if err := genome.CheckRanges(parent, genome.Space{}); err != nil {
		return badInput("checking genome: %w", err)
	}
	space, err := genomeSpace(c, len(parent))
	if err != nil {
		return err
	}
	rate := c.Float64("rate")
	if !(rate >= 0 && rate <= 1) {
		return badInput("--rate must be in [0, 1], got %v", rate)
	}
	r, err := genomeRand(c)
	if err != nil {
		return err
	}
	child := genome.Mutate(r, parent, space, rate)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Parent genome.Genome `json:"parent"`
			Genome genome.Genome `json:"genome"`
			Hash   string        `json:"hash"`
		}{genome.Repair(parent, space), child, genome.Hash(child)})
	}
	_, err = fmt.Fprintln(c.App.Writer, child)
	return err
}

func genomeCrossover(c *cli.Context) error {
	args, err := commandArgs(c)
	if err != nil {
		return err
	}
	if len(args) != 2 {
		return badInput("want two genomes, got %d arguments", len(args))
	}
	a, err := genomeArg(args[0])
	if err != nil {
		return err
	}
	b, err := genomeArg(args[1])
	if err != nil {
		return err
	}
	if len(a) != len(b) {
		return badInput("parents have depths %d and %d; crossover needs equal depths", len(a), len(b))
	}
	for _, g := range []genome.Genome{a, b} {
		if err := genome.CheckRanges(g, genome.Space{}); err != nil {
			return badInput("checking genome %s: %w", g, err)
		}
	}
	k := c.Int("points")
	if k < 1 {
		return badInput("--points must be >= 1, got %d", k)
	}
	r, err := genomeRand(c)
	if err != nil {
		return err
	}
	c1, c2 := genome.Crossover(r, a, b, k)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Children []genome.Genome `json:"children"`
			Hashes   []string        `json:"hashes"`
		}{[]genome.Genome{c1, c2}, []string{genome.Hash(c1), genome.Hash(c2)}})
	}
	_, err = fmt.Fprintf(c.App.Writer, "%s\n%s\n", c1, c2)
	return err
}

func genomeRepair(c *cli.Context) error {
	args, err := commandArgs(c)
	if err != nil {
		return err
	}
	if len(args) != 1 {
		return badInput("want one genome, got %d arguments", len(args))
	}
	in, err := genomeArg(args[0])
	if err != nil {
		return err
	}
	space, err := genomeSpace(c, len(in))
	if err != nil {
		return err
	}
	g := genome.Repair(in, space)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Input   genome.Genome `json:"input"`
			Genome  genome.Genome `json:"genome"`
			Hash    string        `json:"hash"`
			Changed bool          `json:"changed"`
		}{in, g, genome.Hash(g), in.String() != g.String()})
	}
	_, err = fmt.Fprintln(c.App.Writer, g)
	return err
}

func genomeRandom(c *cli.Context) error {
	args, err := commandArgs(c)
	if err != nil {
		return err
	}
	if len(args) != 0 {
		return badInput("random takes no arguments, got %d", len(args))
	}
	depth, err := intFlagIn(c, "depth", 1, genome.MaxDepth)
	if err != nil {
		return err
	}
	space, err := genomeSpace(c, depth)
	if err != nil {
		return err
	}
	r, err := genomeRand(c)
	if err != nil {
		return err
	}
	g := genome.Random(r, space)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Genome genome.Genome `json:"genome"`
			Hash   string        `json:"hash"`
		}{g, genome.Hash(g)})
	}
	_, err = fmt.Fprintln(c.App.Writer, g)
	return err
}
