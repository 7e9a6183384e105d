package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
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

// has reports whether a problem was found at path or below it.
func (v *validator) has(path string) bool {
	for _, e := range v.errs {
		if e.Path == path || strings.HasPrefix(e.Path, path+".") || strings.HasPrefix(e.Path, path+"[") {
			return true
		}
	}
	return false
}

func (v *validator) minInt(path string, x, lo int) {
	if x < lo {
		v.add(path, "must be >= %d, got %d", lo, x)
	}
}

// maxInt checks x <= hi, a limit of limits.go; it reports whether x is
// within it.
func (v *validator) maxInt(path string, x, hi int) bool {
	if x > hi {
		v.add(path, "must be <= %d (the limit; see docs/limits.md), got %d", hi, x)
		return false
	}
	return true
}

// intRange checks lo <= x <= hi, hi a limit of limits.go; it reports
// whether x is within both.
func (v *validator) intRange(path string, x, lo, hi int) bool {
	if x < lo {
		v.add(path, "must be >= %d, got %d", lo, x)
		return false
	}
	return v.maxInt(path, x, hi)
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

	popOK := v.intRange("population", c.Population, 2, MaxPopulation)
	v.intRange("generations", c.Generations, 0, MaxGenerations)
	if d := c.Search.Depth; popOK && d >= 2 && d <= MaxDepth && c.Population*d > MaxPopulationSlots {
		v.add("population", "population x search.depth must be <= %d (the limit; see docs/limits.md), got %d x %d = %d",
			MaxPopulationSlots, c.Population, d, c.Population*d)
	}

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
	buildable := c.validateBuildable(v)
	c.validateSeeds(v, buildable)
	c.Training.validate(v)
	c.validateQuality(v)
	c.validateFinal(v)
	c.validateFidelity(v)
	c.validateBatchTokens(v)
	validateArtifacts(v, c.Artifacts)
	validateBackend(v, c.Backend)
}

func (s Search) validate(v *validator) {
	v.intRange("search.depth", s.Depth, 2, MaxDepth)
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
	widthOK := v.intRange("search.width", d.Width, 1, MaxWidth)
	v.intRange("search.vocab", d.Vocab, 2, MaxVocab)
	contextOK := v.intRange("search.context", d.Context, 2, MaxContext)
	if v.intRange("search.head_dim", d.HeadDim, 1, MaxWidth) && widthOK {
		switch {
		case d.Width%d.HeadDim != 0:
			v.add("search.head_dim", "must divide search.width (%d), got %d", d.Width, d.HeadDim)
		case d.HeadDim%2 != 0:
			v.add("search.head_dim", "must be even (rotary rotates channel pairs), got %d", d.HeadDim)
		}
	}
	v.intRange("search.ffn_expansion", d.FFNExpansion, 1, MaxExpansion)
	if v.intRange("search.short_kernel", d.ShortKernel, 1, MaxShortKernel) && contextOK && d.ShortKernel > d.Context {
		v.add("search.short_kernel", "must be <= search.context (%d), got %d", d.Context, d.ShortKernel)
	}
	if v.intRange("search.filter_features", d.FilterFeatures, 1, MaxFilterFeatures) && d.FilterFeatures%2 == 0 {
		v.add("search.filter_features", "must be odd, got %d", d.FilterFeatures)
	}
	v.intRange("search.filter_hidden", d.FilterHidden, 1, MaxFilterHidden)
	expertsOK := v.intRange("search.experts", d.Experts, 1, MaxExperts)
	v.minInt("search.top_k", d.TopK, 1)
	if d.TopK > d.Experts && expertsOK {
		v.add("search.top_k", "must be <= search.experts (%d), got %d", d.Experts, d.TopK)
	}
	v.intRange("search.moe_expansion", d.MoEExpansion, 1, MaxExpansion)
	if !oneOf(string(d.DType), []string{string(arch.BF16), string(arch.FP16), string(arch.FP32)}) {
		v.add("search.dtype", "must be one of bf16, fp16, fp32, got %q", d.DType)
	}
}

// validateBuildable returns the allowed classes that build at the run's
// dims, or nil when the search space has problems of its own (reported
// under their fields). Classes that do not build are left out of the
// search (search.GenomeSpace), but a run none of whose classes builds is
// refused: every candidate would fail.
func (c Config) validateBuildable(v *validator) []int {
	if v.has("search") {
		return nil
	}
	dims := c.Search.Dims.WithDefaults()
	if err := dims.Validate(); err != nil {
		// The field checks above cover every limit of arch; this
		// reports whatever they might miss.
		v.add("search", "model dimensions: %v", err)
		return nil
	}
	var ok []int
	var why []string
	for _, id := range (genome.Space{Classes: c.Search.Classes}).ClassIDs() {
		err := arch.CheckClass(id, dims)
		if err == nil {
			ok = append(ok, id)
			continue
		}
		var ge *genome.GeneError
		if errors.As(err, &ge) {
			err = errors.New(ge.Reason)
		}
		why = append(why, fmt.Sprintf("%s: %v", genome.MustClass(id).Name, err))
	}
	if len(ok) == 0 {
		v.add("search.classes", "no allowed class builds at these dims (%s); allow other classes or change the dims",
			strings.Join(why, "; "))
	}
	return ok
}

// validateSeeds checks that each seed is a preset that builds at the run's
// depth, or genome text of that depth with every gene in range. Sharing
// groups and classes outside search.classes (or that do not build at the
// run's dims) are repaired when the run starts, not refused; the repaired
// seed's parameters and cache must be computable at the run's dims
// (buildable lists the classes that build; nil skips that check).
func (c Config) validateSeeds(v *validator, buildable []int) {
	if len(c.Seeds) > c.Population && c.Population >= 2 {
		v.add("seeds", "lists %d genomes, more than population (%d)", len(c.Seeds), c.Population)
	}
	if c.Search.Depth < 2 || c.Search.Depth > MaxDepth {
		return // reported under search.depth; nothing is built at that depth
	}
	costable := len(buildable) > 0 && len(c.Seeds) <= c.Population
	for i, s := range c.Seeds {
		p := fmt.Sprintf("seeds[%d]", i)
		g, err := ParseGenomeSpec(s, c.Search.Depth)
		if err != nil {
			v.add(p, "%v", err)
			continue
		}
		if costable {
			g = genome.Repair(g, genome.Space{Depth: c.Search.Depth, Classes: buildable})
			if _, err := arch.Costs(g, c.Search.Dims.WithDefaults()); err != nil {
				v.add(p, "genome %q: costing it at the run's dims: %v", strings.TrimSpace(s), err)
			}
		}
	}
}

func (t Training) validate(v *validator) {
	v.intRange("training.steps", t.Steps, 1, MaxSteps)
	v.intRange("training.batch_size", t.BatchSize, 1, MaxBatchSize)
	v.rangeFloat("training.learning_rate", t.LearningRate, 0, inf, true, true)
	v.rangeFloat("training.beta1", t.Beta1, 0, 1, false, true)
	v.rangeFloat("training.beta2", t.Beta2, 0, 1, false, true)
	v.rangeFloat("training.weight_decay", t.WeightDecay, 0, inf, false, true)
	v.rangeFloat("training.warmup_fraction", t.WarmupFraction, 0, 1, false, true)
	v.rangeFloat("training.grad_clip", t.GradClip, 0, inf, true, true)
	v.intRange("training.eval_batches", t.EvalBatches, 1, MaxEvalBatches)
	v.intRange("training.checkpoint_every", t.CheckpointEvery, 0, MaxSteps)
	if t.Timeout <= 0 {
		v.add("training.timeout", "must be > 0, got %s", t.Timeout)
	}
	if t.Precision != "fp32" && t.Precision != "bf16" {
		v.add("training.precision", "must be fp32 or bf16, got %q", t.Precision)
	}
}

// validateBatchTokens checks the tokens of one training step: batch_size
// times search.context (the text task's windows) and times each MAD task's
// length, where those are within their own limits.
func (c Config) validateBatchTokens(v *validator) {
	b := c.Training.BatchSize
	if b < 1 || b > MaxBatchSize {
		return
	}
	check := func(what string, l, hi int) {
		if l >= 1 && l <= hi && b*l > MaxBatchTokens {
			v.add("training.batch_size", "training.batch_size x %s must be <= %d tokens per step (the limit; see docs/limits.md), got %d x %d = %d",
				what, MaxBatchTokens, b, l, b*l)
		}
	}
	check("search.context", c.Search.Dims.Context, MaxContext)
	for i, t := range c.Quality.MAD {
		check(fmt.Sprintf("quality.mad[%d].length", i), t.Length, MaxMADLength)
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
	if q.Latency != LatencyThroughput && q.Latency != LatencyDecode {
		v.add("quality.latency", "must be %s or %s, got %q", LatencyThroughput, LatencyDecode, q.Latency)
	}
	if n := len(q.Sweep.LearningRates); n > MaxSweep {
		v.add("quality.sweep.learning_rates", "lists %d values, more than the limit of %d (see docs/limits.md)", n, MaxSweep)
	}
	if n := len(q.Sweep.WeightDecays); n > MaxSweep {
		v.add("quality.sweep.weight_decays", "lists %d values, more than the limit of %d (see docs/limits.md)", n, MaxSweep)
	}
	for i, lr := range q.Sweep.LearningRates {
		v.rangeFloat(fmt.Sprintf("quality.sweep.learning_rates[%d]", i), lr, 0, inf, true, true)
	}
	for i, wd := range q.Sweep.WeightDecays {
		v.rangeFloat(fmt.Sprintf("quality.sweep.weight_decays[%d]", i), wd, 0, inf, false, true)
	}
}

func (t MADTask) validate(v *validator, p string) {
	before := len(v.errs)
	defer func() {
		if len(v.errs) == before {
			t.validateData(v, p)
		}
	}()
	v.intRange(p+".vocab", t.Vocab, 4, MaxMADVocab)
	lengthOK := v.intRange(p+".length", t.Length, 8, MaxMADLength)
	trainOK := v.intRange(p+".train_examples", t.TrainExamples, 1, MaxMADExamples)
	testOK := v.intRange(p+".test_examples", t.TestExamples, 1, MaxMADExamples)
	if lengthOK && trainOK && testOK {
		if n := (t.TrainExamples + t.TestExamples) * t.Length; n > MaxMADTokens {
			v.add(p, "(train_examples + test_examples) x length must be <= %d tokens (the limit; see docs/limits.md), got (%d + %d) x %d = %d",
				MaxMADTokens, t.TrainExamples, t.TestExamples, t.Length, n)
		}
	}
	unused := func(field string, set bool) {
		if set {
			v.add(p+"."+field, "is not a knob of %s", t.Name)
		}
	}
	if t.Name == NoisyRecall {
		v.rangeFloat(p+".noise", t.Noise, 0, 1, true, true)
		v.intRange(p+".noise_vocab", t.NoiseVocab, 1, MaxMADVocab)
	} else {
		unused("noise", t.Noise != 0)
		unused("noise_vocab", t.NoiseVocab != 0)
	}
	if t.Name == FuzzyRecall {
		v.minInt(p+".max_key_len", t.MaxKeyLen, 1)
		if t.MaxKeyLen > t.Length && lengthOK {
			v.add(p+".max_key_len", "must be <= length (%d), got %d", t.Length, t.MaxKeyLen)
		}
	} else {
		unused("max_key_len", t.MaxKeyLen != 0)
	}
	if t.Name == SelectiveCopying {
		v.minInt(p+".tokens", t.Tokens, 1)
		if t.Tokens >= t.Length && lengthOK {
			v.add(p+".tokens", "must be < length (%d), got %d", t.Length, t.Tokens)
		}
	} else {
		unused("tokens", t.Tokens != 0)
	}
}

// validateData checks the task's knobs the way the worker's data
// generator will, so that a task it refuses is refused before the run
// starts (recall lengths must be even, selective copying needs length >=
// 2*tokens+1, ...).
func (t MADTask) validateData(v *validator, p string) {
	m, err := t.Data(0).WithDefaults()
	if err == nil {
		err = m.Validate()
	}
	if err != nil {
		v.add(p, "%v", err)
	}
}

// Data is the data generator's config of task t with data seed seed: what
// a candidate trained with that seed trains and is scored on.
func (t MADTask) Data(seed uint64) data.MADConfig {
	return data.MADConfig{Task: t.Name, Vocab: t.Vocab, Length: t.Length, Noise: t.Noise, NoiseVocab: t.NoiseVocab,
		MaxKeyLen: t.MaxKeyLen, Tokens: t.Tokens, TrainExamples: t.TrainExamples, TestExamples: t.TestExamples, Seed: seed}
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
	if (name != "go" && name != "xla" && s != "auto") || (name == "auto" && s != "auto") {
		v.add("backend", "must be go, xla, xla:<plugin path> (options after a colon) or auto, got %q", s)
	}
}
