package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func mustParse(t *testing.T, s string) Config {
	t.Helper()
	c, err := Parse([]byte(s))
	if err != nil {
		t.Fatalf("Parse(%q): %v", s, err)
	}
	return c
}

func TestDefault(t *testing.T) {
	t.Parallel()
	c := Default()
	if err := c.Validate(); err != nil {
		t.Fatalf("Default does not validate: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"seed", c.Seed, uint64(1)},
		{"algorithm.name", c.Algorithm.Name, NSGA2},
		{"mutation_rate", c.Algorithm.MutationRate, 0.1},
		{"crossover_points", c.Algorithm.CrossoverPoints, 2},
		{"tournament_size", c.Algorithm.TournamentSize, 2},
		{"elitism", c.Algorithm.GA.Elitism, 2},
		{"beta0", c.Algorithm.Firefly.Beta0, 1.0},
		{"population", c.Population, 16},
		{"generations", c.Generations, 18},
		{"objectives", c.Objectives, []string{MADScore, Params}},
		{"depth", c.Search.Depth, 8},
		{"width", c.Search.Dims.Width, 64},
		{"head_dim", c.Search.Dims.HeadDim, 16},
		{"classes", len(c.Search.Classes), 18},
		{"seeds", c.Seeds, []string{"transformer++", "striped"}},
		{"learning_rate", c.Training.LearningRate, 8e-4},
		{"beta1", c.Training.Beta1, 0.9},
		{"beta2", c.Training.Beta2, 0.95},
		{"weight_decay", c.Training.WeightDecay, 0.1},
		{"grad_clip", c.Training.GradClip, 1.0},
		{"timeout", c.Training.Timeout, time.Hour},
		{"precision", c.Training.Precision, "fp32"},
		{"mad tasks", len(c.Quality.MAD), 6},
		{"noise", c.Quality.MAD[1].Noise, 0.2},
		{"artifacts", c.Artifacts, "artifacts"},
		{"backend", c.Backend, "go"},
		{"learning rates", c.LearningRates(), []float64{8e-4}},
		{"ga weight", c.GAWeight(Params), 1.0},
	}
	for _, ck := range checks {
		if !reflect.DeepEqual(ck.got, ck.want) {
			t.Errorf("%s = %v, want %v", ck.name, ck.got, ck.want)
		}
	}
	for i, id := range c.Search.Classes {
		if id != i+1 {
			t.Fatalf("classes = %v, want 1..18", c.Search.Classes)
		}
	}
}

func TestEmptyDocumentIsDefault(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"", "\n", "# only a comment\n", "{}", "---\n"} {
		c := mustParse(t, s)
		if !reflect.DeepEqual(c, Default()) {
			t.Errorf("Parse(%q) differs from Default", s)
		}
	}
}

func TestExampleIsDefault(t *testing.T) {
	t.Parallel()
	c, err := Parse(Example)
	if err != nil {
		t.Fatalf("example.yaml: %v", err)
	}
	if !reflect.DeepEqual(c, Default()) {
		a, _ := c.YAML()
		b, _ := Default().YAML()
		t.Fatalf("example.yaml differs from Default:\n%s\nvs\n%s", a, b)
	}
}

// TestExampleListsEveryField keeps example.yaml complete: every key of the
// Config type appears in it. An optional section (a pointer field, off when
// absent) appears commented out, one "# key:" line per key.
func TestExampleListsEveryField(t *testing.T) {
	t.Parallel()
	var root yaml.Node
	if err := yaml.Unmarshal(Example, &root); err != nil {
		t.Fatal(err)
	}
	present := map[string]bool{}
	var visit func(n *yaml.Node, path string)
	visit = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			visit(n.Content[0], path)
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				p := join(path, n.Content[i].Value)
				present[p] = true
				visit(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for _, e := range n.Content {
				visit(e, path+"[]")
			}
		}
	}
	visit(&root, "")
	var want []string
	var keys func(t reflect.Type, path string)
	commented := map[string]bool{}
	keys = func(t reflect.Type, path string) {
		for name, ft := range yamlFields(t) {
			p := join(path, name)
			if ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct {
				commented[name] = true
				for sub := range yamlFields(ft.Elem()) {
					commented[sub] = true
				}
				continue
			}
			want = append(want, p)
			switch {
			case ft.Kind() == reflect.Struct:
				keys(ft, p)
			case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
				keys(ft.Elem(), p+"[]")
			}
		}
	}
	keys(reflect.TypeOf(Config{}), "")
	for _, p := range want {
		if !present[p] {
			t.Errorf("example.yaml does not set %s", p)
		}
	}
	for key := range commented {
		if !regexp.MustCompile(`(?m)^#\s*` + regexp.QuoteMeta(key) + `:`).Match(Example) {
			t.Errorf("example.yaml does not list the optional key %s in a comment", key)
		}
	}
}

func TestPartialOverride(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
population: 32
search:
  width: 1024
training:
  weight_decay: 0      # an explicit zero is kept, not replaced by 0.1
seed: 0
quality:
  mad:
    - name: noisy_recall
      noise: 0.5
`)
	if c.Population != 32 || c.Generations != 18 {
		t.Errorf("population, generations = %d, %d", c.Population, c.Generations)
	}
	if c.Search.Dims.Width != 1024 || c.Search.Dims.HeadDim != 64 {
		t.Errorf("width %d head_dim %d, want 1024 and the derived default 64", c.Search.Dims.Width, c.Search.Dims.HeadDim)
	}
	if c.Training.WeightDecay != 0 || c.Seed != 0 {
		t.Errorf("explicit zeros lost: weight_decay %v seed %v", c.Training.WeightDecay, c.Seed)
	}
	if c.Training.LearningRate != 8e-4 {
		t.Errorf("learning_rate = %v", c.Training.LearningRate)
	}
	want := MADTask{Name: NoisyRecall, Vocab: 16, Length: 128, Noise: 0.5, NoiseVocab: 16, TrainExamples: 4096, TestExamples: 256}
	if len(c.Quality.MAD) != 1 || c.Quality.MAD[0] != want {
		t.Errorf("mad = %+v, want [%+v]", c.Quality.MAD, want)
	}
}

// TestValidationNamesField checks that each invalid value is reported under
// its own field path, with a line number.
func TestValidationNamesField(t *testing.T) {
	t.Parallel()
	cases := []struct{ yaml, path string }{
		{"algorithm: {name: sgd}", "algorithm.name"},
		{"algorithm: {mutation_rate: 1.5}", "algorithm.mutation_rate"},
		{"algorithm: {mutation_rate: .nan}", "algorithm.mutation_rate"},
		{"algorithm: {crossover_points: 0}", "algorithm.crossover_points"},
		{"algorithm: {crossover_points: 8}", "algorithm.crossover_points"},
		{"algorithm: {tournament_size: 1}", "algorithm.tournament_size"},
		{"algorithm: {tournament_size: 17}", "algorithm.tournament_size"},
		{"algorithm: {ga: {weights: {latency: 1}}}", "algorithm.ga.weights.latency"},
		{"algorithm: {ga: {weights: {params: -1}}}", "algorithm.ga.weights.params"},
		{"algorithm: {ga: {weights: {params: 0}}}", "algorithm.ga.weights"},
		{"algorithm: {ga: {elitism: 16}}", "algorithm.ga.elitism"},
		{"algorithm: {firefly: {beta0: 0}}", "algorithm.firefly.beta0"},
		{"algorithm: {firefly: {gamma: -1}}", "algorithm.firefly.gamma"},
		{"algorithm: {firefly: {alpha: -0.1}}", "algorithm.firefly.alpha"},
		{"algorithm: {firefly: {alpha_decay: 1.5}}", "algorithm.firefly.alpha_decay"},
		{"population: 1", "population"},
		{"generations: -1", "generations"},
		{"objectives: []", "objectives"},
		{"objectives: [quality]", "objectives[0]"},
		{"objectives: [params, params]", "objectives[1]"},
		{"search: {depth: 1}", "search.depth"},
		{"search: {depth: 5000}", "search.depth"},
		{"search: {classes: []}", "search.classes"},
		{"search: {classes: [1, 19]}", "search.classes[1]"},
		{"search: {classes: [3, 3]}", "search.classes[1]"},
		{"search: {width: -64}", "search.width"},
		{"search: {vocab: -1}", "search.vocab"},
		{"search: {context: -1}", "search.context"},
		{"search: {head_dim: 24}", "search.head_dim"},
		{"search: {ffn_expansion: -1}", "search.ffn_expansion"},
		{"search: {short_kernel: 300}", "search.short_kernel"},
		{"search: {filter_features: 8}", "search.filter_features"},
		{"search: {filter_hidden: -1}", "search.filter_hidden"},
		{"search: {experts: -1}", "search.experts"},
		{"search: {top_k: 5}", "search.top_k"},
		{"search: {moe_expansion: -2}", "search.moe_expansion"},
		{"search: {dtype: int8}", "search.dtype"},
		{"seeds: ['']", "seeds[0]"},
		{"seeds: [Transformer]", "seeds[0]"},
		{"seeds: ['11111-91111']", "seeds[0]"},
		{"seeds: ['1111x-91111-11111-91111-11111-91111-11111-91111']", "seeds[0]"},
		{"seeds: ['11111-91111-11111-91111-11111-91111-11111-19111']", "seeds[0]"},
		{"seeds: ['11111-91111-11111-91111-11111-91111-11111-91191']", "seeds[0]"},
		{"seeds: [transformer++, hyena]", "seeds[1]"},
		{"search: {depth: 7}\nseeds: [striped]", "seeds[0]"},
		{"population: 2\nalgorithm: {ga: {elitism: 1}}\nseeds: [a, b, c]", "seeds"},
		{"training: {steps: 0}", "training.steps"},
		{"training: {batch_size: 0}", "training.batch_size"},
		{"training: {learning_rate: 0}", "training.learning_rate"},
		{"training: {learning_rate: .inf}", "training.learning_rate"},
		{"training: {beta1: 1}", "training.beta1"},
		{"training: {beta2: -0.1}", "training.beta2"},
		{"training: {weight_decay: -0.1}", "training.weight_decay"},
		{"training: {warmup_fraction: 1}", "training.warmup_fraction"},
		{"training: {grad_clip: 0}", "training.grad_clip"},
		{"training: {eval_batches: 0}", "training.eval_batches"},
		{"training: {checkpoint_every: -1}", "training.checkpoint_every"},
		{"training: {timeout: -1m}", "training.timeout"},
		{"training: {precision: fp16}", "training.precision"},
		{"quality: {mad: []}", "quality.mad"},
		{"quality: {mad: [{name: recall}]}", "quality.mad[0].name"},
		{"quality: {mad: [{name: compression}, {name: compression}]}", "quality.mad[1].name"},
		{"quality: {mad: [{name: compression, vocab: 2}]}", "quality.mad[0].vocab"},
		{"quality: {mad: [{name: compression, length: 4}]}", "quality.mad[0].length"},
		{"quality: {mad: [{name: compression, noise: 0.1}]}", "quality.mad[0].noise"},
		{"quality: {mad: [{name: noisy_recall, noise: 1}]}", "quality.mad[0].noise"},
		{"quality: {mad: [{name: noisy_recall, noise_vocab: -1}]}", "quality.mad[0].noise_vocab"},
		{"quality: {mad: [{name: fuzzy_recall, max_key_len: -1}]}", "quality.mad[0].max_key_len"},
		{"quality: {mad: [{name: compression, max_key_len: 2}]}", "quality.mad[0].max_key_len"},
		{"quality: {mad: [{name: selective_copying, tokens: 256}]}", "quality.mad[0].tokens"},
		{"quality: {mad: [{name: compression, tokens: 2}]}", "quality.mad[0].tokens"},
		{"quality: {mad: [{name: compression, train_examples: -1}]}", "quality.mad[0].train_examples"},
		{"quality: {mad: [{name: compression, test_examples: -1}]}", "quality.mad[0].test_examples"},
		{"quality: {validation_fraction: 0}", "quality.validation_fraction"},
		{"quality: {sweep: {learning_rates: [0.001, 0]}}", "quality.sweep.learning_rates[1]"},
		{"quality: {sweep: {weight_decays: [-1]}}", "quality.sweep.weight_decays[0]"},
		{"artifacts: ''", "artifacts"},
		{"artifacts: s3://bucket/prefix", "artifacts"},
		{"artifacts: file://host/dir", "artifacts"},
		{"artifacts: ftp://x/y", "artifacts"},
		{"backend: cuda", "backend"},
		// Read errors name the field too.
		{"population: sixteen", "population"},
		{"population: 1.5", "population"},
		{"seed: -1", "seed"},
		{"search: {depth: '8'}", "search.depth"},
		{"search: [1, 2]", "search"},
		{"objectives: mad_score", "objectives"},
		{"training: {timeout: 10}", "training.timeout"},
		{"search: {untie_embedding: maybe}", "search.untie_embedding"},
		{"algorithm: {ga: {weights: [1, 2]}}", "algorithm.ga.weights"},
		{"quality: {mad: [compression]}", "quality.mad[0]"},
		{"search: {classes: [1, {a: 1}]}", "search.classes[1]"},
		{"populaton: 16", "populaton"},
		{"search: {widht: 64}", "search.widht"},
		{"quality: {mad: [{name: compression, vocabulary: 16}]}", "quality.mad[0].vocabulary"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.yaml))
		if err == nil {
			t.Errorf("Parse(%q) = nil error, want one naming %s", tc.yaml, tc.path)
			continue
		}
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("Parse(%q): %v is not Errors", tc.yaml, err)
			continue
		}
		found := false
		for _, e := range es {
			if e.Path == tc.path {
				found = true
				if !strings.HasPrefix(e.Error(), tc.path+": ") {
					t.Errorf("message %q does not start with the path", e.Error())
				}
				if e.Line == 0 {
					t.Errorf("%q: %v has no line", tc.yaml, e)
				}
			}
		}
		if !found {
			t.Errorf("Parse(%q) = %v, want an error for %s", tc.yaml, err, tc.path)
		}
	}
}

func TestUnknownFieldRejected(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte("population: 16\nmutation_rate: 0.2\n"))
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v, want a FieldError", err)
	}
	if fe.Path != "mutation_rate" || fe.Line != 2 || fe.Msg != "unknown field" {
		t.Errorf("got %+v", fe)
	}
	if got := fe.Error(); got != "mutation_rate: unknown field (line 2)" {
		t.Errorf("Error() = %q", got)
	}
}

func TestErrorsReportedTogether(t *testing.T) {
	t.Parallel()
	_, err := Parse([]byte(`
search:
  depth: 1
  colour: blue
population: many
training:
  beta2: 2
`))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("err = %v", err)
	}
	var paths []string
	for _, e := range es {
		paths = append(paths, e.Path)
	}
	want := []string{"search.depth", "search.colour", "population", "training.beta2"}
	if !reflect.DeepEqual(paths, want) {
		t.Fatalf("paths = %v, want %v (in file order)\n%v", paths, want, err)
	}
	if n := strings.Count(err.Error(), "\n"); n != 3 {
		t.Errorf("want 4 lines, got:\n%v", err)
	}
}

func TestNotYAML(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"a: [1, 2", "a: 1\n---\nb: 2\n", "\t- x"} {
		if _, err := Parse([]byte(s)); err == nil {
			t.Errorf("Parse(%q) succeeded", s)
		}
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte("population: 8\nalgorithm: {name: firefly}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(good)
	if err != nil {
		t.Fatal(err)
	}
	if c.Population != 8 || c.Algorithm.Name != Firefly {
		t.Errorf("got population %d algorithm %s", c.Population, c.Algorithm.Name)
	}
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("population: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "population: must be >= 2") {
		t.Errorf("Load(bad) = %v", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Errorf("Load error does not unwrap to a FieldError")
	}
	if _, err := Load(filepath.Join(dir, "missing.yaml")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(missing) = %v, want ErrNotExist", err)
	}
}

func TestYAMLRoundTrip(t *testing.T) {
	t.Parallel()
	c := mustParse(t, `
algorithm: {name: ga, ga: {weights: {mad_score: 1, params: 0.25}}}
objectives: [mad_score, params, cache_bytes]
search: {width: 128, classes: [1, 5, 9]}
seeds: [transformer++, "11111-91111-11111-91111-11111-91111-11111-91111"]
quality: {corpus: /data/text.txt, sweep: {learning_rates: [0.001, 0.0003]}}
training: {timeout: 90m}
`)
	b, err := c.YAML()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(YAML()): %v\n%s", err, b)
	}
	if !reflect.DeepEqual(c, c2) {
		t.Fatalf("round trip differs:\n%s", b)
	}
	if c.Hash() != c2.Hash() {
		t.Fatal("round trip changed the hash")
	}
}

func TestHash(t *testing.T) {
	t.Parallel()
	def := Default().Hash()
	if len(def) != 64 {
		t.Fatalf("Hash() = %q, want 64 hex digits", def)
	}
	if h := mustParse(t, "search: {head_dim: 16}\nquality: {mad: [{name: in_context_recall}, {name: noisy_recall}, {name: fuzzy_recall}, {name: selective_copying}, {name: compression}, {name: memorization, vocab: 256}]}").Hash(); h != def {
		t.Error("explicit defaults changed the hash")
	}
	same := []string{
		"population: 32", "generations: 3", "seed: 99", "algorithm: {name: firefly}",
		"objectives: [mad_score, cache_bytes]", "search: {classes: [1, 9]}", "seeds: []",
		"artifacts: /tmp/x", "backend: xla", "training: {timeout: 5m, checkpoint_every: 7}",
	}
	for _, s := range same {
		if h := mustParse(t, s).Hash(); h != def {
			t.Errorf("%q changed the training hash", s)
		}
	}
	differ := []string{
		"search: {width: 128}", "search: {depth: 12}", "search: {context: 512}", "search: {dtype: fp32}",
		"training: {steps: 100}", "training: {learning_rate: 0.001}", "training: {beta2: 0.99}",
		"training: {warmup_fraction: 0}", "quality: {mad: [{name: compression}]}",
		"quality: {mad: [{name: compression, vocab: 32}, {name: memorization}]}",
		"quality: {corpus: other.txt}", "quality: {sweep: {weight_decays: [0, 0.1]}}",
		"training: {precision: bf16}",
	}
	seen := map[string]string{def: "default"}
	for _, s := range differ {
		h := mustParse(t, s).Hash()
		if prev, dup := seen[h]; dup {
			t.Errorf("%q hashes like %q", s, prev)
		}
		seen[h] = s
	}
	// Hash must not write defaults into the caller's slices.
	c := Config{Quality: Quality{MAD: []MADTask{{Name: Compression}}}}
	_ = c.Hash()
	if c.Quality.MAD[0].Vocab != 0 {
		t.Error("Hash modified its receiver's MAD slice")
	}
}

func TestArtifactDir(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"artifacts": "artifacts", "file:///var/star": "/var/star", "/abs/dir": "/abs/dir"} {
		c := Default()
		c.Artifacts = in
		got, err := c.ArtifactDir()
		if err != nil || got != want {
			t.Errorf("ArtifactDir(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}

// FuzzParse feeds Parse any document: it must never panic, never allocate
// in proportion to a number it has not checked, and a config it accepts
// must have every size within its limit (checkLimits) and survive a round
// trip. Seeds: example.yaml, examples/*.yaml and testdata/*.yaml.
func FuzzParse(f *testing.F) {
	f.Add(Example)
	for _, pattern := range []string{"../examples/*.yaml", "testdata/*.yaml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range files {
			b, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Add([]byte(""))
	f.Add([]byte("population: 4\nalgorithm: {name: ga, ga: {weights: {params: 2}}}\n"))
	f.Add([]byte("search: {depth: 3, width: 32}\nseeds: ['11111-91111-10.1.1.1.1']\nalgorithm: {crossover_points: 1}\n"))
	f.Add([]byte("quality: {mad: [{name: selective_copying, tokens: 3, length: 9}]}\n"))
	f.Add([]byte("a: &x {b: 1}\nc: *x\n"))
	f.Add([]byte("search:\n  <<: {depth: 4}\n"))
	f.Add([]byte("population: 9223372036854775807\n"))
	f.Add([]byte("search: {depth: 100000000}\n"))
	f.Add([]byte("search: {width: 2000000000, vocab: 2000000000}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var c Config
		var err error
		if n := allocated(func() { c, err = Parse(data) }); n > parseBudget+uint64(1000*len(data)) {
			t.Fatalf("Parse of %d bytes allocated %d MB", len(data), n>>20)
		}
		if err != nil {
			var es Errors
			if errors.As(err, &es) {
				for _, e := range es {
					if e.Msg == "" {
						t.Fatalf("empty message in %v", err)
					}
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted an invalid config: %v", err)
		}
		if err := checkLimits(c); err != nil {
			t.Fatalf("Parse accepted a size past its limit: %v", err)
		}
		b, err := c.YAML()
		if err != nil {
			t.Fatalf("YAML: %v", err)
		}
		c2, err := Parse(b)
		if err != nil {
			t.Fatalf("Parse(YAML()) = %v\n%s", err, b)
		}
		if !reflect.DeepEqual(c, c2) {
			t.Fatalf("round trip differs:\n%s", b)
		}
		if c.Hash() != c2.Hash() {
			t.Fatal("round trip changed the hash")
		}
	})
}

func ExampleParse() {
	c, err := Parse([]byte("population: 8\nsearch: {width: 128}\n"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.Population, c.Generations, c.Search.Dims.Width, c.Search.Dims.HeadDim, c.Objectives)

	_, err = Parse([]byte("search:\n  depth: 1\n  colour: blue\n"))
	fmt.Println(err)
	// Output:
	// 8 18 128 16 [mad_score params]
	// search.depth: must be >= 2, got 1 (line 2)
	// search.colour: unknown field (line 3)
}

// Every backend a worker can create is a valid run config backend; auto
// lets each worker pick its GPU when it has one.
func TestBackendValues(t *testing.T) {
	t.Parallel()
	for _, b := range []string{"go", "go:parallelism=2", "xla", "xla:/opt/xla_cuda_plugin.so", "auto"} {
		if _, err := Parse([]byte("backend: " + b)); err != nil {
			t.Errorf("backend %q: %v", b, err)
		}
	}
	for _, b := range []string{"cuda", "auto:x", "''", "xla2"} {
		if _, err := Parse([]byte("backend: " + b)); err == nil || !strings.Contains(err.Error(), "backend") {
			t.Errorf("backend %s accepted (err %v)", b, err)
		}
	}
}
