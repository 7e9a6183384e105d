package config

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

const maxClass = genome.NumClasses

// Validate checks every field of a configuration whose defaults are applied
// (as Parse and Default return it) and reports every problem as Errors, or
// nil.
func (c Config) Validate() error {
	v := &validator{}
	c.validate(v)
	if len(v.errs) == 0 {
		return nil
	}
	return Errors(v.errs)
}

type validator struct{ errs []*FieldError }

func (v *validator) add(path, format string, args ...any) {
	v.errs = append(v.errs, &FieldError{Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (v *validator) minInt(path string, x, lo int) {
	if x < lo {
		v.add(path, "must be >= %d, got %d", lo, x)
	}
}

// rangeFloat checks lo <= x <= hi (or < when open); NaN and infinities fail.
func (v *validator) rangeFloat(path string, x, lo, hi float64, loOpen, hiOpen bool) {
	ok := !math.IsNaN(x) && !math.IsInf(x, 0)
	if ok && (x < lo || (loOpen && x == lo)) {
		ok = false
	}
	if ok && (x > hi || (hiOpen && x == hi)) {
		ok = false
	}
	if ok {
		return
	}
	lb, rb := "[", "]"
	if loOpen {
		lb = "("
	}
	if hiOpen {
		rb = ")"
	}
	switch {
	case math.IsInf(hi, 1) && loOpen:
		v.add(path, "must be > %s, got %s", num(lo), num(x))
	case math.IsInf(hi, 1):
		v.add(path, "must be >= %s, got %s", num(lo), num(x))
	default:
		v.add(path, "must be in %s%s, %s%s, got %s", lb, num(lo), num(hi), rb, num(x))
	}
}

func num(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }

var inf = math.Inf(1)

func oneOf(x string, set []string) bool {
	for _, s := range set {
		if x == s {
			return true
		}
	}
	return false
}

func (c Config) validate(v *validator) {
	a := c.Algorithm
	if !oneOf(a.Name, []string{NSGA2, GA, Firefly}) {
		v.add("algorithm.name", "must be one of nsga2, ga, firefly, got %q", a.Name)
	}
	v.rangeFloat("algorithm.mutation_rate", a.MutationRate, 0, 1, false, false)
	v.minInt("algorithm.crossover_points", a.CrossoverPoints, 1)
	if a.CrossoverPoints >= 1 && c.Search.Depth >= 2 && a.CrossoverPoints >= c.Search.Depth {
		v.add("algorithm.crossover_points", "must be < search.depth (%d), got %d", c.Search.Depth, a.CrossoverPoints)
	}
	v.minInt("algorithm.tournament_size", a.TournamentSize, 2)
	if a.TournamentSize >= 2 && c.Population >= 2 && a.TournamentSize > c.Population {
		v.add("algorithm.tournament_size", "must be <= population (%d), got %d", c.Population, a.TournamentSize)
	}
	keys := make([]string, 0, len(a.GA.Weights))
	for k := range a.GA.Weights {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	anyWeight := false
	for _, k := range keys {
		p := "algorithm.ga.weights." + k
		if !c.HasObjective(k) {
			v.add(p, "not one of objectives %v", c.Objectives)
			continue
		}
		w := a.GA.Weights[k]
		v.rangeFloat(p, w, 0, inf, false, true)
		if w > 0 {
			anyWeight = true
		}
	}
	if len(keys) > 0 && !anyWeight {
		v.add("algorithm.ga.weights", "at least one weight must be > 0")
	}
	v.minInt("algorithm.ga.elitism", a.GA.Elitism, 0)
	if a.GA.Elitism > 0 && c.Population >= 2 && a.GA.Elitism >= c.Population {
		v.add("algorithm.ga.elitism", "must be < population (%d), got %d", c.Population, a.GA.Elitism)
	}
	v.rangeFloat("algorithm.firefly.beta0", a.Firefly.Beta0, 0, inf, true, true)
	v.rangeFloat("algorithm.firefly.gamma", a.Firefly.Gamma, 0, inf, false, true)
	v.rangeFloat("algorithm.firefly.alpha", a.Firefly.Alpha, 0, inf, false, true)
	v.rangeFloat("algorithm.firefly.alpha_decay", a.Firefly.AlphaDecay, 0, 1, true, false)

	v.minInt("population", c.Population, 2)
	v.minInt("generations", c.Generations, 0)

	if len(c.Objectives) == 0 {
		v.add("objectives", "must list at least one of %s", strings.Join(Objectives, ", "))
	}
	seen := map[string]bool{}
	for i, o := range c.Objectives {
		p := fmt.Sprintf("objectives[%d]", i)
		switch {
		case !oneOf(o, Objectives):
			v.add(p, "unknown objective %q; want one of %s", o, strings.Join(Objectives, ", "))
		case seen[o]:
			v.add(p, "%q is listed twice", o)
		}
		seen[o] = true
	}

	c.Search.validate(v)
	c.validateSeeds(v)
	c.Training.validate(v)
	c.validateQuality(v)
	c.validateFinal(v)
	validateArtifacts(v, c.Artifacts)
	validateBackend(v, c.Backend)
}

func (s Search) validate(v *validator) {
	v.minInt("search.depth", s.Depth, 2)
	if s.Depth > 4096 {
		v.add("search.depth", "must be <= 4096, got %d", s.Depth)
	}
	if len(s.Classes) == 0 {
		v.add("search.classes", "must list at least one class id in 1..%d", maxClass)
	}
	seen := map[int]bool{}
	for i, id := range s.Classes {
		p := fmt.Sprintf("search.classes[%d]", i)
		switch {
		case id < 1 || id > maxClass:
			v.add(p, "class id must be in 1..%d, got %d", maxClass, id)
		case seen[id]:
			v.add(p, "class %d is listed twice", id)
		}
		seen[id] = true
	}
	d := s.Dims
	v.minInt("search.width", d.Width, 1)
	v.minInt("search.vocab", d.Vocab, 2)
	v.minInt("search.context", d.Context, 2)
	v.minInt("search.head_dim", d.HeadDim, 1)
	if d.HeadDim >= 1 && d.Width >= 1 && d.Width%d.HeadDim != 0 {
		v.add("search.head_dim", "must divide search.width (%d), got %d", d.Width, d.HeadDim)
	}
	v.minInt("search.ffn_expansion", d.FFNExpansion, 1)
	v.minInt("search.short_kernel", d.ShortKernel, 1)
	if d.ShortKernel > d.Context && d.Context >= 2 {
		v.add("search.short_kernel", "must be <= search.context (%d), got %d", d.Context, d.ShortKernel)
	}
	v.minInt("search.filter_features", d.FilterFeatures, 1)
	if d.FilterFeatures >= 1 && d.FilterFeatures%2 == 0 {
		v.add("search.filter_features", "must be odd, got %d", d.FilterFeatures)
	}
	v.minInt("search.filter_hidden", d.FilterHidden, 1)
	v.minInt("search.experts", d.Experts, 1)
	v.minInt("search.top_k", d.TopK, 1)
	if d.TopK > d.Experts && d.Experts >= 1 {
		v.add("search.top_k", "must be <= search.experts (%d), got %d", d.Experts, d.TopK)
	}
	v.minInt("search.moe_expansion", d.MoEExpansion, 1)
	if !oneOf(string(d.DType), []string{string(arch.BF16), string(arch.FP16), string(arch.FP32)}) {
		v.add("search.dtype", "must be one of bf16, fp16, fp32, got %q", d.DType)
	}
}

// validateSeeds checks that each seed is a preset that builds at the run's
// depth, or genome text of that depth with every gene in range. Sharing
// groups and classes outside search.classes are repaired when the run
// starts, not refused.
func (c Config) validateSeeds(v *validator) {
	if len(c.Seeds) > c.Population && c.Population >= 2 {
		v.add("seeds", "lists %d genomes, more than population (%d)", len(c.Seeds), c.Population)
	}
	if c.Search.Depth < 2 {
		return // reported under search.depth
	}
	for i, s := range c.Seeds {
		if _, err := ParseGenomeSpec(s, c.Search.Depth); err != nil {
			v.add(fmt.Sprintf("seeds[%d]", i), "%v", err)
		}
	}
}

func (t Training) validate(v *validator) {
	v.minInt("training.steps", t.Steps, 1)
	v.minInt("training.batch_size", t.BatchSize, 1)
	v.rangeFloat("training.learning_rate", t.LearningRate, 0, inf, true, true)
	v.rangeFloat("training.beta1", t.Beta1, 0, 1, false, true)
	v.rangeFloat("training.beta2", t.Beta2, 0, 1, false, true)
	v.rangeFloat("training.weight_decay", t.WeightDecay, 0, inf, false, true)
	v.rangeFloat("training.warmup_fraction", t.WarmupFraction, 0, 1, false, true)
	v.rangeFloat("training.grad_clip", t.GradClip, 0, inf, true, true)
	v.minInt("training.eval_batches", t.EvalBatches, 1)
	v.minInt("training.checkpoint_every", t.CheckpointEvery, 0)
	if t.Timeout <= 0 {
		v.add("training.timeout", "must be > 0, got %s", t.Timeout)
	}
	if t.Precision != "fp32" && t.Precision != "bf16" {
		v.add("training.precision", "must be fp32 or bf16, got %q", t.Precision)
	}
}

func (c Config) validateQuality(v *validator) {
	q := c.Quality
	if len(q.MAD) == 0 && c.HasObjective(MADScore) {
		v.add("quality.mad", "must list at least one MAD task when objectives include mad_score")
	}
	seen := map[string]bool{}
	for i, t := range q.MAD {
		p := fmt.Sprintf("quality.mad[%d]", i)
		if _, ok := MADDefaults(t.Name); !ok {
			v.add(p+".name", "unknown MAD task %q; want one of %s", t.Name, strings.Join(MADTasks, ", "))
			continue
		}
		if seen[t.Name] {
			v.add(p+".name", "task %q is listed twice", t.Name)
		}
		seen[t.Name] = true
		t.validate(v, p)
	}
	v.rangeFloat("quality.validation_fraction", q.ValidationFraction, 0, 1, true, true)
	for i, lr := range q.Sweep.LearningRates {
		v.rangeFloat(fmt.Sprintf("quality.sweep.learning_rates[%d]", i), lr, 0, inf, true, true)
	}
	for i, wd := range q.Sweep.WeightDecays {
		v.rangeFloat(fmt.Sprintf("quality.sweep.weight_decays[%d]", i), wd, 0, inf, false, true)
	}
}

func (t MADTask) validate(v *validator, p string) {
	v.minInt(p+".vocab", t.Vocab, 4)
	v.minInt(p+".length", t.Length, 8)
	v.minInt(p+".train_examples", t.TrainExamples, 1)
	v.minInt(p+".test_examples", t.TestExamples, 1)
	unused := func(field string, set bool) {
		if set {
			v.add(p+"."+field, "is not a knob of %s", t.Name)
		}
	}
	if t.Name == NoisyRecall {
		v.rangeFloat(p+".noise", t.Noise, 0, 1, true, true)
		v.minInt(p+".noise_vocab", t.NoiseVocab, 1)
	} else {
		unused("noise", t.Noise != 0)
		unused("noise_vocab", t.NoiseVocab != 0)
	}
	if t.Name == FuzzyRecall {
		v.minInt(p+".max_key_len", t.MaxKeyLen, 1)
	} else {
		unused("max_key_len", t.MaxKeyLen != 0)
	}
	if t.Name == SelectiveCopying {
		v.minInt(p+".tokens", t.Tokens, 1)
		if t.Tokens >= t.Length && t.Length >= 8 {
			v.add(p+".tokens", "must be < length (%d), got %d", t.Length, t.Tokens)
		}
	} else {
		unused("tokens", t.Tokens != 0)
	}
}

func validateArtifacts(v *validator, s string) {
	if strings.TrimSpace(s) == "" {
		v.add("artifacts", "must be a directory path or a file:// URL, got an empty string")
		return
	}
	if !strings.Contains(s, "://") {
		return
	}
	u, err := url.Parse(s)
	if err != nil {
		v.add("artifacts", "not a URL: %v", err)
		return
	}
	switch u.Scheme {
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			v.add("artifacts", "file URL must name an absolute path (file:///dir), got host %q", u.Host)
		} else if u.Path == "" {
			v.add("artifacts", "file URL has no path")
		}
	case "s3":
		v.add("artifacts", "s3 stores are not supported yet; use a directory every worker can reach")
	default:
		v.add("artifacts", "unsupported scheme %q; want a directory path or a file:// URL", u.Scheme)
	}
}

// ArtifactDir returns the local directory of Artifacts: the path itself, or
// the path of a file:// URL.
func (c Config) ArtifactDir() (string, error) {
	if !strings.Contains(c.Artifacts, "://") {
		return c.Artifacts, nil
	}
	u, err := url.Parse(c.Artifacts)
	if err != nil || u.Scheme != "file" || u.Path == "" {
		return "", fmt.Errorf("artifacts %q: not a directory path or file:// URL", c.Artifacts)
	}
	return u.Path, nil
}

func validateBackend(v *validator, s string) {
	name, _, _ := strings.Cut(s, ":")
	if name != "go" && name != "xla" {
		v.add("backend", "must be go, xla or xla:<plugin path> (options after a colon), got %q", s)
	}
}
