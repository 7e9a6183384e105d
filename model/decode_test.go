package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

// decodeConfig is tinyConfig at a context that is not a power of two, so
// the caches grow 4 -> 8 -> 12 positions while decoding.
func decodeConfig() arch.Config {
	c := tinyConfig()
	c.Context = 12
	return c
}

// relErr returns max|got-want| / max|want| over one position's logits.
func relErr(got, want []float32) float64 {
	var diff, scale float64
	for i := range want {
		diff = math.Max(diff, math.Abs(float64(got[i]-want[i])))
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	return diff / math.Max(scale, 1e-30)
}

// TestDecodeMatchesForward checks, for every class and the sharing
// genomes, that prefill + step-by-step decoding gives the full causal
// forward's logits at every position, that the caches at the context hold
// arch.CacheBytes, and that one step graph is built per cache capacity.
func TestDecodeMatchesForward(t *testing.T) {
	t.Parallel()
	for _, c := range allCases() {
		for _, prompt := range []int{1, 5} {
			checkDecode(t, c.name, c.g, decodeConfig(), prompt)
		}
	}
}

// The short convs' windows at kernel lengths 1 (no cache at all) and 4.
func TestDecodeShortKernels(t *testing.T) {
	t.Parallel()
	for _, k := range []int{1, 4} {
		for _, g := range []string{"21111-92121", "71111-92121", "11.1.1.1.1-71111"} {
			cfg := decodeConfig()
			cfg.ShortKernel = k
			checkDecode(t, fmt.Sprintf("%s k=%d", g, k), genome.MustParse(g), cfg, 2)
		}
	}
}

// checkDecode checks that prefill of prompt tokens + step-by-step decoding
// of g gives the full causal forward's logits at every position (relative
// error 1e-4), that the caches at the context hold arch.CacheBytes, and
// that one step graph is built per cache capacity.
func checkDecode(t *testing.T, name string, g genome.Genome, cfg arch.Config, prompt int) {
	t.Helper()
	const batch, tol = 2, 1e-4
	m, store := buildModel(t, g, cfg, 3, dtypes.Float32)
	l, v := cfg.Context, cfg.Vocab
	tok := randomTokens(rand.New(rand.NewPCG(uint64(prompt), 9)), batch, l, v)
	full, err := forwardExec(t, m, store).Call(tok)
	if err != nil {
		t.Fatalf("%s: forward: %v", name, err)
	}
	defer full[0].FinalizeAll()
	want := flat[float32](t, full[0]) // [batch, l, v]
	at := func(b, p int) []float32 { return want[(b*l+p)*v : (b*l+p+1)*v] }

	dec, err := NewDecoder(testBackend(t), store, m, DecoderOptions{Batch: batch, MinCapacity: 4})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer dec.Close()
	prefix := make([][]int32, batch)
	for b := range batch {
		prefix[b] = tok[b][:prompt]
	}
	pl, err := dec.Prefill(prefix)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	got := flat[float32](t, pl)
	for b := range batch {
		for p := range prompt {
			if e := relErr(got[(b*prompt+p)*v:(b*prompt+p+1)*v], at(b, p)); e > tol {
				t.Errorf("%s prompt %d: prefill logits at position %d differ by %.3g", name, prompt, p, e)
			}
		}
	}
	for p := prompt; p < l; p++ {
		step := make([]int32, batch)
		for b := range batch {
			step[b] = tok[b][p]
		}
		out, err := dec.Step(step)
		if err != nil {
			t.Fatalf("%s: step %d: %v", name, p, err)
		}
		got := flat[float32](t, out)
		for b := range batch {
			if e := relErr(got[b*v:(b+1)*v], at(b, p)); e > tol {
				t.Errorf("%s prompt %d: step logits at position %d differ by %.3g", name, prompt, p, e)
			}
		}
		out.FinalizeAll()
	}
	acfg := cfg
	acfg.DType = arch.FP32
	wantBytes, err := arch.CacheBytes(g, acfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := dec.CacheBytes(); got != int64(batch)*wantBytes {
		t.Errorf("%s: caches hold %d bytes at context %d, arch.CacheBytes says %d per sequence x %d", name, got, l, wantBytes, batch)
	}
	grows := false
	for _, s := range m.cacheSpecs(batch, l) {
		grows = grows || s.kind != fixedCache
	}
	wantGraphs := 1
	if grows {
		wantGraphs = 3 // capacities 4 (or 8), 8, 12
		if prompt >= 4 {
			wantGraphs = 2
		}
	}
	if dec.StepGraphs() != wantGraphs {
		t.Errorf("%s prompt %d: %d step graphs built, want %d (one per capacity)", name, prompt, dec.StepGraphs(), wantGraphs)
	}
	if _, err := dec.Step(make([]int32, batch)); err == nil {
		t.Errorf("%s: a step past the max length succeeded", name)
	}
}

func TestDecoderErrors(t *testing.T) {
	t.Parallel()
	m, store := buildModel(t, classGenome(1), decodeConfig(), 1, dtypes.Float32)
	dec, err := NewDecoder(testBackend(t), store, m, DecoderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer dec.Close()
	if _, err := dec.Step([]int32{1}); err == nil {
		t.Error("step before prefill succeeded")
	}
	if _, err := dec.Prefill([][]int32{make([]int32, 12)}); err == nil {
		t.Error("a prompt as long as the max length was accepted")
	}
	if _, err := dec.Prefill([][]int32{{1, 99}}); err == nil {
		t.Error("a token outside the vocabulary was accepted")
	}
}
