package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute"
	"github.com/urfave/cli/v2"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
	"github.com/star-pipeline/star-pipeline/trainer"
)

// defaultTorchBLAS is where Debian's libopenblas0-openmp puts its
// libblas.so.3: first on the PyTorch process's LD_LIBRARY_PATH, Debian's
// torch then runs its matmuls on OpenBLAS instead of the reference BLAS.
const defaultTorchBLAS = "/usr/lib/x86_64-linux-gnu/openblas-openmp"

// torchFlags are bench trainer's flags of --compare-torch.
func torchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "compare-torch", Usage: "train the reference hybrid and transformer++ (depth 8) on the Go trainer and on bench/gpu/reference.py (PyTorch, CPU), interleaved, and print tokens/s and Go/PyTorch", EnvVars: []string{"STAR_COMPARE_TORCH"}},
		&cli.IntFlag{Name: "rounds", Value: 3, Usage: "--compare-torch: rounds of the interleaved comparison", EnvVars: []string{"STAR_ROUNDS"}},
		&cli.StringFlag{Name: "python", Value: "/usr/bin/python3", Usage: "--compare-torch: the Python that imports torch", EnvVars: []string{"STAR_PYTHON"}},
		&cli.StringFlag{Name: "reference", Value: "bench/gpu/reference.py", Usage: "--compare-torch: path of reference.py", EnvVars: []string{"STAR_REFERENCE"}},
		&cli.IntFlag{Name: "torch-threads", Value: 2, Usage: "--compare-torch: torch.set_num_threads", EnvVars: []string{"STAR_TORCH_THREADS"}},
		&cli.StringFlag{Name: "torch-blas", Value: defaultTorchBLAS, Usage: "--compare-torch: directory put first on PyTorch's LD_LIBRARY_PATH (an OpenBLAS libblas.so.3); \"none\" leaves it alone", EnvVars: []string{"STAR_TORCH_BLAS"}},
		&cli.StringFlag{Name: "torch-long-conv", Value: "fft,toeplitz", Usage: "--compare-torch: PyTorch GConv-2 long convolutions to time (fft, toeplitz)", EnvVars: []string{"STAR_TORCH_LONG_CONV"}},
	}
}

// torchRun is one timed run of one implementation of one model.
type torchRun struct {
	Round      int      `json:"round"`
	Model      string   `json:"model"`
	Impl       string   `json:"impl"` // "go", "torch fft", "torch toeplitz"
	TokensPerS float64  `json:"tokens_per_s"`
	StepMS     float64  `json:"step_ms"`
	TokensCPU  float64  `json:"tokens_per_cpu_s"` // tokens per CPU-second of the process (all threads)
	Loss       float64  `json:"final_loss,omitempty"`
	BLAS       []string `json:"blas,omitempty"` // PyTorch: the BLAS libraries it mapped
}

// torchRatio summarises Go / PyTorch over rounds (each round's ratio uses
// that round's two runs).
type torchRatio struct {
	Model     string    `json:"model"`
	Torch     string    `json:"torch"`
	GoTokensS float64   `json:"go_tokens_per_s"`    // median over rounds
	PTTokensS float64   `json:"torch_tokens_per_s"` // median over rounds
	Ratios    []float64 `json:"ratios"`             // per round
	Median    float64   `json:"median"`
	// CPURatios: Go / PyTorch in tokens per CPU-second, per round; less
	// sensitive than Ratios to other processes on a shared machine, and
	// blind to how well each uses its threads.
	CPURatios  []float64 `json:"cpu_ratios"`
	CPUMedian  float64   `json:"cpu_median"`
	Min        float64   `json:"min"`
	Max        float64   `json:"max"`
	GoBackend  string    `json:"go_backend"`
	TorchBLAS  string    `json:"torch_blas"`
	TorchThrds int       `json:"torch_threads"`
}

type torchCompareOutput struct {
	Width   int          `json:"width"`
	Context int          `json:"context"`
	Batch   int          `json:"batch"`
	Steps   int          `json:"steps"`
	Runs    []torchRun   `json:"runs"`
	Ratios  []torchRatio `json:"ratios"`
}

type torchModel struct {
	name string
	g    genome.Genome
}

// compareTorch is bench trainer --compare-torch.
func compareTorch(c *cli.Context, backend compute.Backend, dims arch.Config, batch, steps int, precision trainer.Precision) error {
	if precision != trainer.FP32 && precision != "" {
		return badInput("--compare-torch times float32 only (PyTorch on the CPU has no matching bf16 path)")
	}
	o, err := torchOptionsOf(c)
	if err != nil {
		return err
	}
	tpp, err := genome.Preset(genome.PresetTransformerPP, 8)
	if err != nil {
		return err
	}
	models := []torchModel{{"hybrid", genome.MustParse(benchReference)}, {"transformer++", tpp}}
	dims = dims.WithDefaults()
	dims.Vocab = 256
	tmp, err := os.MkdirTemp("", "star-compare-torch-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	costFiles, err := writeCostFiles(tmp, models, dims)
	if err != nil {
		return err
	}
	stderr := c.App.ErrWriter
	fmt.Fprintf(stderr, "bench trainer --compare-torch: %d rounds of %v at width %d, context %d, batch %d; Go: %s; PyTorch: %s %s, %d threads, LD_LIBRARY_PATH=%s\n",
		o.rounds, []string{models[0].name, models[1].name}, dims.Width, dims.Context, batch, backend.Description(), o.python, o.reference, o.threads, o.blasDir)
	out := torchCompareOutput{Width: dims.Width, Context: dims.Context, Batch: batch, Steps: steps}
	for round := 1; round <= o.rounds; round++ {
		for _, m := range models {
			runs, err := torchRound(c, o, backend, m, m.name == models[0].name, costFiles[m.name], dims, batch, steps, precision)
			if err != nil {
				return err
			}
			for i := range runs {
				runs[i].Round = round
				fmt.Fprintf(stderr, "round %d  %-13s  %-14s  %8.0f tokens/s  %8.0f tokens/cpu-s", round, m.name, runs[i].Impl,
					runs[i].TokensPerS, runs[i].TokensCPU)
				if runs[i].Impl != "go" {
					fmt.Fprintf(stderr, "  (%s)", strings.Join(runs[i].BLAS, " "))
				}
				fmt.Fprintln(stderr)
			}
			out.Runs = append(out.Runs, runs...)
		}
	}
	out.Ratios = torchRatios(out.Runs, backend.Description(), o.blasDir, o.threads)
	if c.Bool("json") {
		return writeJSON(c.App.Writer, out)
	}
	return printTorchComparison(c.App.Writer, out, backend.Description(), o)
}

// torchOptions are --compare-torch's settings of the PyTorch side.
type torchOptions struct {
	rounds, threads   int
	convs             []string // long convolutions to time: fft, toeplitz
	reference, python string
	blasDir           string // LD_LIBRARY_PATH of the PyTorch process; "" for its default BLAS
}

// torchOptionsOf reads and checks the --compare-torch flags.
func torchOptionsOf(c *cli.Context) (torchOptions, error) {
	o := torchOptions{rounds: c.Int("rounds"), threads: c.Int("torch-threads"), reference: c.String("reference")}
	if err := checkIntFlags(c, intRange{"rounds", 1, 100}, intRange{"torch-threads", 1, 1024}); err != nil {
		return o, err
	}
	for _, lc := range strings.Split(c.String("torch-long-conv"), ",") {
		lc = strings.TrimSpace(lc)
		if lc != "fft" && lc != "toeplitz" {
			return o, badInput("--torch-long-conv: want fft and/or toeplitz, got %q", lc)
		}
		if !slices.Contains(o.convs, lc) {
			o.convs = append(o.convs, lc)
		}
	}
	if _, err := os.Stat(o.reference); err != nil {
		return o, badInput("--reference: %v (run from the repository root or give the path of bench/gpu/reference.py)", err)
	}
	py, err := exec.LookPath(c.String("python"))
	if err != nil {
		return o, badInput("--python: %v", err)
	}
	o.python = py
	o.blasDir = c.String("torch-blas")
	if o.blasDir == "none" {
		o.blasDir = ""
	} else if st, err := os.Stat(filepath.Join(o.blasDir, "libblas.so.3")); err != nil || st.IsDir() {
		return o, badInput("--torch-blas %s has no libblas.so.3: apt-get install libopenblas0-openmp, or --torch-blas none (PyTorch then uses the slow reference BLAS)", o.blasDir)
	}
	return o, nil
}

// writeCostFiles writes each model's genome, dims and costs where
// reference.py reads them, one JSON file per model in dir.
func writeCostFiles(dir string, models []torchModel, dims arch.Config) (map[string]string, error) {
	files := map[string]string{}
	for _, m := range models {
		costs, err := arch.Costs(m.g, dims)
		if err != nil {
			return nil, benchErr(fmt.Errorf("%w: %s: %w", trainer.ErrInvalid, m.name, err))
		}
		b, err := json.Marshal(struct {
			Genome genome.Genome `json:"genome"`
			Hash   string        `json:"hash"`
			Config arch.Config   `json:"config"`
			arch.CostReport
		}{m.g, genome.Hash(m.g), dims, costs})
		if err != nil {
			return nil, err
		}
		files[m.name] = filepath.Join(dir, strings.ReplaceAll(m.name, "+", "p")+".json")
		if err := os.WriteFile(files[m.name], b, 0o644); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// torchRound times model m once in Go and once per long convolution in
// PyTorch (once only for a model without GConv-2). first names the first
// model, whose PyTorch runs keep their long convolution in their name.
func torchRound(c *cli.Context, o torchOptions, backend compute.Backend, m torchModel, first bool, costFile string,
	dims arch.Config, batch, steps int, precision trainer.Precision) ([]torchRun, error) {
	st, err := trainer.TimeTraining(c.Context, backend, m.g, dims, batch, 1, steps, precision)
	if err != nil {
		return nil, benchErr(fmt.Errorf("%s: %w", m.name, err))
	}
	runs := []torchRun{{Model: m.name, Impl: "go", TokensPerS: st.TokensPerS, StepMS: st.StepSeconds * 1000,
		TokensCPU: perCPUSecond(batch*dims.Context*steps, st.CPUSeconds)}}
	lcs := o.convs
	if !slices.ContainsFunc(m.g, func(s genome.Slot) bool { return s.Class == 8 || s.Class == 16 }) {
		lcs = o.convs[:1] // no GConv-2: the long convolution does not matter
	}
	for _, lc := range lcs {
		r, err := runTorch(c, o.python, o.reference, costFile, o.blasDir, o.threads, lc, batch, steps)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.name, err)
		}
		r.Model = m.name
		if len(lcs) == 1 && !first {
			r.Impl = "torch"
		}
		runs = append(runs, r)
	}
	return runs, nil
}

// printTorchComparison prints the ratios as a table and what was compared.
func printTorchComparison(w io.Writer, out torchCompareOutput, goBackend string, o torchOptions) error {
	t := newTable(w, "model", "pytorch", "go_tokens_per_s", "torch_tokens_per_s", "go/torch median", "min", "max", "rounds", "go/torch per cpu-s")
	for _, r := range out.Ratios {
		t.row(r.Model, r.Torch, fmt.Sprintf("%.0f", r.GoTokensS), fmt.Sprintf("%.0f", r.PTTokensS),
			fmt.Sprintf("%.2f", r.Median), fmt.Sprintf("%.2f", r.Min), fmt.Sprintf("%.2f", r.Max), len(r.Ratios),
			fmt.Sprintf("%.2f", r.CPUMedian))
	}
	if err := t.flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "\nwidth %d, context %d, batch %d, %d timed steps per run, float32; Go: %s; PyTorch: %d threads, LD_LIBRARY_PATH=%s\n",
		out.Width, out.Context, out.Batch, out.Steps, goBackend, o.threads, o.blasDir)
	return err
}

// runTorch runs reference.py once on one cost file and parses its JSON line.
func runTorch(c *cli.Context, py, ref, costFile, blasDir string, threads int, longConv string, batch, steps int) (torchRun, error) {
	cmd := exec.CommandContext(c.Context, py, ref, "--cost", costFile, "--device", "cpu", "--precision", "fp32",
		"--compile", "none", "--attention", "math", "--long-conv", longConv, "--threads", strconv.Itoa(threads),
		"--batch", strconv.Itoa(batch), "--steps", strconv.Itoa(steps), "--warmup", "2")
	env := os.Environ()
	if blasDir != "" {
		lib := blasDir
		if old := os.Getenv("LD_LIBRARY_PATH"); old != "" {
			lib += ":" + old
		}
		env = append(env, "LD_LIBRARY_PATH="+lib)
	}
	cmd.Env = env
	var so, se bytes.Buffer
	cmd.Stdout, cmd.Stderr = &so, &se
	if err := cmd.Run(); err != nil {
		return torchRun{}, fmt.Errorf("%s %s: %w\n%s", py, ref, err, lastLines(se.String(), 10))
	}
	var res struct {
		TokensPerS float64  `json:"tokens_per_s"`
		StepMS     float64  `json:"step_ms"`
		FinalLoss  float64  `json:"final_loss"`
		CPUSeconds float64  `json:"cpu_seconds"`
		BLAS       []string `json:"blas"`
		Context    int      `json:"context"`
		Error      string   `json:"error"`
	}
	sc := bufio.NewScanner(&so)
	found := false
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); strings.HasPrefix(line, "{") {
			if err := json.Unmarshal([]byte(line), &res); err != nil {
				return torchRun{}, fmt.Errorf("reference.py output: %w: %s", err, line)
			}
			found = true
		}
	}
	if !found || res.Error != "" || res.TokensPerS <= 0 {
		return torchRun{}, fmt.Errorf("reference.py gave no timing (%s)\n%s", res.Error, lastLines(se.String(), 10))
	}
	return torchRun{Impl: "torch " + longConv, TokensPerS: res.TokensPerS, StepMS: res.StepMS, Loss: res.FinalLoss, BLAS: res.BLAS,
		TokensCPU: perCPUSecond(batch*res.Context*steps, res.CPUSeconds)}, nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// torchRatios pairs each PyTorch run with the Go run of its model and round.
func torchRatios(runs []torchRun, goBackend, blasDir string, threads int) []torchRatio {
	type key struct{ model, impl string }
	var order []key
	goOf := map[[2]any]torchRun{}
	byKey := map[key][]torchRun{}
	for _, r := range runs {
		if r.Impl == "go" {
			goOf[[2]any{r.Model, r.Round}] = r
			continue
		}
		k := key{r.Model, r.Impl}
		if _, ok := byKey[k]; !ok {
			order = append(order, k)
		}
		byKey[k] = append(byKey[k], r)
	}
	var out []torchRatio
	for _, k := range order {
		tr := torchRatio{Model: k.model, Torch: strings.TrimSpace(strings.TrimPrefix(k.impl, "torch")), GoBackend: goBackend, TorchBLAS: blasDir, TorchThrds: threads}
		if tr.Torch == "" {
			tr.Torch = "-"
		}
		var gos, pts []float64
		for _, r := range byKey[k] {
			g := goOf[[2]any{r.Model, r.Round}]
			gos, pts = append(gos, g.TokensPerS), append(pts, r.TokensPerS)
			tr.Ratios = append(tr.Ratios, g.TokensPerS/r.TokensPerS)
			if g.TokensCPU > 0 && r.TokensCPU > 0 {
				tr.CPURatios = append(tr.CPURatios, g.TokensCPU/r.TokensCPU)
			}
		}
		tr.GoTokensS, tr.PTTokensS, tr.Median = median(gos), median(pts), median(tr.Ratios)
		tr.Min, tr.Max = slices.Min(tr.Ratios), slices.Max(tr.Ratios)
		if len(tr.CPURatios) > 0 {
			tr.CPUMedian = median(tr.CPURatios)
		}
		out = append(out, tr)
	}
	return out
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	} else {
		return (s[n/2-1] + s[n/2]) / 2
	}
}

// perCPUSecond is tokens / cpuSeconds (0 when the CPU time is unknown).
func perCPUSecond(tokens int, cpuSeconds float64) float64 {
	if cpuSeconds <= 0 {
		return 0
	}
	return float64(tokens) / cpuSeconds
}
