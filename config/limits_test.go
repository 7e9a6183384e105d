package config

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// allocated returns the bytes f allocates. Tests that use it do not call
// t.Parallel, so nothing else in the package allocates meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// parseBudget is what parsing and validating one small file may allocate,
// whatever numbers it holds.
const parseBudget = 16 << 20

// wantFieldError parses doc and checks that it is refused with an error
// for path, without allocating more than parseBudget.
func wantFieldError(t *testing.T, doc, path string) {
	t.Helper()
	var err error
	n := allocated(func() { _, err = Parse([]byte(doc)) })
	if n > parseBudget {
		t.Errorf("Parse(%q) allocated %d MB", doc, n>>20)
	}
	var es Errors
	if !errors.As(err, &es) {
		t.Errorf("Parse(%q) = %v, want Errors naming %s", doc, err, path)
		return
	}
	for _, e := range es {
		if e.Path == path {
			if e.Line == 0 {
				t.Errorf("Parse(%q): %v has no line", doc, e)
			}
			return
		}
	}
	t.Errorf("Parse(%q) = %v, want an error for %s", doc, err, path)
}

// TestSizeLimits checks that every size is refused past its limit, naming
// the field, before anything proportional to it is allocated.
func TestSizeLimits(t *testing.T) {
	cases := []struct{ yaml, path string }{
		// The reported failures.
		{"population: 9223372036854775807", "population"},
		{"population: 1000000000", "population"},
		{"search: {depth: 100000000}", "search.depth"},
		{"search: {width: 2000000000, vocab: 2000000000}", "search.width"},
		{"search: {width: 2000000000, vocab: 2000000000}", "search.vocab"},
		// One past each limit.
		{fmt.Sprintf("population: %d\nseeds: []", MaxPopulation+1), "population"},
		{fmt.Sprintf("generations: %d", MaxGenerations+1), "generations"},
		{fmt.Sprintf("search: {depth: %d}\nseeds: []", MaxDepth+1), "search.depth"},
		{fmt.Sprintf("population: %d\nsearch: {depth: %d}\nseeds: []", MaxPopulation, MaxPopulationSlots/MaxPopulation+1), "population"},
		{fmt.Sprintf("search: {width: %d}", MaxWidth*2), "search.width"},
		{fmt.Sprintf("search: {vocab: %d}", MaxVocab+1), "search.vocab"},
		{fmt.Sprintf("search: {context: %d}", MaxContext+1), "search.context"},
		{fmt.Sprintf("search: {head_dim: %d}", MaxWidth*2), "search.head_dim"},
		{fmt.Sprintf("search: {ffn_expansion: %d}", MaxExpansion+1), "search.ffn_expansion"},
		{fmt.Sprintf("search: {short_kernel: %d, context: %d}", MaxShortKernel+1, MaxShortKernel+1), "search.short_kernel"},
		{fmt.Sprintf("search: {filter_features: %d}", MaxFilterFeatures+2), "search.filter_features"},
		{fmt.Sprintf("search: {filter_hidden: %d}", MaxFilterHidden+1), "search.filter_hidden"},
		{fmt.Sprintf("search: {experts: %d}", MaxExperts+1), "search.experts"},
		{fmt.Sprintf("search: {moe_expansion: %d}", MaxExpansion+1), "search.moe_expansion"},
		{fmt.Sprintf("training: {steps: %d}", MaxSteps+1), "training.steps"},
		{fmt.Sprintf("training: {batch_size: %d}", MaxBatchSize+1), "training.batch_size"},
		{fmt.Sprintf("training: {eval_batches: %d}", MaxEvalBatches+1), "training.eval_batches"},
		{fmt.Sprintf("training: {batch_size: %d}\nsearch: {context: %d}", MaxBatchSize, MaxBatchTokens/MaxBatchSize+1), "training.batch_size"},
		{fmt.Sprintf("training: {batch_size: %d}\nquality: {mad: [{name: compression, length: %d, train_examples: 16, test_examples: 16}]}",
			MaxBatchSize, MaxBatchTokens/MaxBatchSize+2), "training.batch_size"},
		{fmt.Sprintf("training: {checkpoint_every: %d}", MaxSteps+1), "training.checkpoint_every"},
		{fmt.Sprintf("quality: {mad: [{name: memorization, vocab: %d}]}", MaxMADVocab+2), "quality.mad[0].vocab"},
		{fmt.Sprintf("quality: {mad: [{name: compression, length: %d}]}", MaxMADLength+1), "quality.mad[0].length"},
		{fmt.Sprintf("quality: {mad: [{name: noisy_recall, noise_vocab: %d}]}", MaxMADVocab+1), "quality.mad[0].noise_vocab"},
		{"quality: {mad: [{name: fuzzy_recall, max_key_len: 1000000000}]}", "quality.mad[0].max_key_len"},
		{"quality: {mad: [{name: selective_copying, tokens: 1000000000, length: 1000000000}]}", "quality.mad[0].length"},
		{fmt.Sprintf("quality: {mad: [{name: compression, train_examples: %d}]}", MaxMADExamples+1), "quality.mad[0].train_examples"},
		{fmt.Sprintf("quality: {mad: [{name: compression, test_examples: %d}]}", MaxMADExamples+1), "quality.mad[0].test_examples"},
		{fmt.Sprintf("quality: {mad: [{name: compression, length: %d, train_examples: %d}]}", MaxMADLength, MaxMADExamples), "quality.mad[0]"},
		{"quality: {sweep: {learning_rates: [" + strings.Repeat("0.001, ", MaxSweep) + "0.001]}}", "quality.sweep.learning_rates"},
		{"quality: {sweep: {weight_decays: [" + strings.Repeat("0.1, ", MaxSweep) + "0.1]}}", "quality.sweep.weight_decays"},
	}
	for _, tc := range cases {
		wantFieldError(t, tc.yaml, tc.path)
	}
}

// TestLimitsAccepted checks that each limit itself is a valid value.
func TestLimitsAccepted(t *testing.T) {
	t.Parallel()
	for _, doc := range []string{
		fmt.Sprintf("population: %d\nsearch: {depth: %d}", MaxPopulation, MaxPopulationSlots/MaxPopulation),
		fmt.Sprintf("population: 16\nsearch: {depth: %d}", MaxDepth),
		fmt.Sprintf("generations: %d", MaxGenerations),
		fmt.Sprintf("search: {width: %d, vocab: %d, context: %d, ffn_expansion: %d, moe_expansion: %d, experts: %d, filter_hidden: %d, filter_features: %d, short_kernel: %d}",
			MaxWidth, MaxVocab, MaxContext, MaxExpansion, MaxExpansion, MaxExperts, MaxFilterHidden, MaxFilterFeatures, MaxShortKernel),
		fmt.Sprintf("training: {steps: %d, batch_size: %d, eval_batches: %d, checkpoint_every: %d}\nsearch: {context: %d}",
			MaxSteps, MaxBatchSize, MaxEvalBatches, MaxSteps, MaxBatchTokens/MaxBatchSize),
		fmt.Sprintf("quality: {mad: [{name: memorization, vocab: %d, length: %d, train_examples: %d, test_examples: %d}]}",
			MaxMADVocab, MaxMADTokens/(2*MaxMADExamples), MaxMADExamples, MaxMADExamples),
		"quality: {sweep: {learning_rates: [" + strings.Repeat("0.001, ", MaxSweep-1) + "0.001], weight_decays: [" + strings.Repeat("0.1, ", MaxSweep-1) + "0.1]}}",
	} {
		c := mustParse(t, doc)
		if err := checkLimits(c); err != nil {
			t.Errorf("checkLimits(%q): %v", doc, err)
		}
	}
}

// TestDefaultsWithinLimits checks Default and the example against the
// limits the fuzz test asserts.
func TestDefaultsWithinLimits(t *testing.T) {
	t.Parallel()
	if err := checkLimits(Default()); err != nil {
		t.Fatal(err)
	}
}

// checkLimits reports the first size of c past its limit. It restates the
// limits independently of Validate, so the fuzz test can hold Validate to
// them.
func checkLimits(c Config) error {
	d := c.Search.Dims
	type size struct {
		name   string
		v, max int
	}
	sizes := []size{
		{"population", c.Population, MaxPopulation},
		{"generations", c.Generations, MaxGenerations},
		{"search.depth", c.Search.Depth, MaxDepth},
		{"population x search.depth", c.Population * c.Search.Depth, MaxPopulationSlots},
		{"search.classes", len(c.Search.Classes), 18},
		{"seeds", len(c.Seeds), c.Population},
		{"objectives", len(c.Objectives), len(Objectives)},
		{"search.width", d.Width, MaxWidth},
		{"search.vocab", d.Vocab, MaxVocab},
		{"search.context", d.Context, MaxContext},
		{"search.head_dim", d.HeadDim, d.Width},
		{"search.ffn_expansion", d.FFNExpansion, MaxExpansion},
		{"search.short_kernel", d.ShortKernel, MaxShortKernel},
		{"search.filter_features", d.FilterFeatures, MaxFilterFeatures},
		{"search.filter_hidden", d.FilterHidden, MaxFilterHidden},
		{"search.experts", d.Experts, MaxExperts},
		{"search.top_k", d.TopK, d.Experts},
		{"search.moe_expansion", d.MoEExpansion, MaxExpansion},
		{"training.steps", c.Training.Steps, MaxSteps},
		{"training.batch_size", c.Training.BatchSize, MaxBatchSize},
		{"training.batch_size x search.context", c.Training.BatchSize * d.Context, MaxBatchTokens},
		{"training.eval_batches", c.Training.EvalBatches, MaxEvalBatches},
		{"training.checkpoint_every", c.Training.CheckpointEvery, MaxSteps},
		{"quality.mad", len(c.Quality.MAD), len(MADTasks)},
		{"quality.sweep.learning_rates", len(c.Quality.Sweep.LearningRates), MaxSweep},
		{"quality.sweep.weight_decays", len(c.Quality.Sweep.WeightDecays), MaxSweep},
		{"algorithm.ga.weights", len(c.Algorithm.GA.Weights), len(c.Objectives)},
		{"algorithm.tournament_size", c.Algorithm.TournamentSize, c.Population},
		{"algorithm.crossover_points", c.Algorithm.CrossoverPoints, c.Search.Depth - 1},
		{"algorithm.ga.elitism", c.Algorithm.GA.Elitism, c.Population - 1},
	}
	for i, t := range c.Quality.MAD {
		p := fmt.Sprintf("quality.mad[%d].", i)
		sizes = append(sizes,
			size{p + "vocab", t.Vocab, MaxMADVocab},
			size{p + "length", t.Length, MaxMADLength},
			size{p + "noise_vocab", t.NoiseVocab, MaxMADVocab},
			size{p + "max_key_len", t.MaxKeyLen, t.Length},
			size{p + "tokens", t.Tokens, t.Length},
			size{p + "train_examples", t.TrainExamples, MaxMADExamples},
			size{p + "test_examples", t.TestExamples, MaxMADExamples},
			size{p + "tokens in all", (t.TrainExamples + t.TestExamples) * t.Length, MaxMADTokens},
			size{"training.batch_size x " + p + "length", c.Training.BatchSize * t.Length, MaxBatchTokens})
	}
	for _, s := range sizes {
		if s.v < 0 || s.v > s.max {
			return fmt.Errorf("%s = %d, past its limit %d", s.name, s.v, s.max)
		}
	}
	return nil
}

// TestLimitFiles checks the fuzz seeds of testdata: limits.yaml holds
// every limit and is valid; huge.yaml holds the sizes of the hardening
// issue and is refused field by field, cheaply.
func TestLimitFiles(t *testing.T) {
	c, err := Load("testdata/limits.yaml")
	if err != nil {
		t.Fatalf("limits.yaml: %v", err)
	}
	if err := checkLimits(c); err != nil {
		t.Fatal(err)
	}
	var es Errors
	n := allocated(func() { _, err = Load("testdata/huge.yaml") })
	if !errors.As(err, &es) || n > parseBudget {
		t.Fatalf("huge.yaml: %v after allocating %d bytes", err, n)
	}
	paths := map[string]bool{}
	for _, e := range es {
		paths[e.Path] = true
	}
	for _, p := range []string{"population", "generations", "search.depth", "search.width", "search.vocab", "search.context",
		"search.experts", "training.steps", "training.batch_size", "quality.mad[0].length", "quality.mad[0].train_examples",
		"quality.sweep.learning_rates"} {
		if !paths[p] {
			t.Errorf("huge.yaml: no error for %s in\n%v", p, err)
		}
	}
}
