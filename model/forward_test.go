package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/star-pipeline/star-pipeline/arch"
)

// Changing token t leaves the logits of every position before t bit for bit
// unchanged, and changes the logits at t.
func TestCausal(t *testing.T) {
	t.Parallel()
	cfg := arch.Config{Width: 32, HeadDim: 8, Context: 16, Vocab: 32}
	for _, c := range allCases() {
		t.Run(c.name, func(t *testing.T) {
			m, err := New(c.g, cfg)
			if err != nil {
				t.Fatal(err)
			}
			store := newTestStore(t, 3)
			e := forwardExec(t, m, store)
			rng := rand.New(rand.NewPCG(4, 5))
			base := randomTokens(rng, 2, 16, 32)
			run := func(tok [][]int32) []float32 {
				out, err := e.Call(tok)
				if err != nil {
					t.Fatal(err)
				}
				return flat[float32](t, out[0])
			}
			want := run(base)
			for _, pos := range []int{1, 7, 15} {
				tok := [][]int32{append([]int32(nil), base[0]...), append([]int32(nil), base[1]...)}
				tok[0][pos] = (tok[0][pos] + 1) % 32
				tok[1][pos] = (tok[1][pos] + 5) % 32
				got := run(tok)
				for b := range 2 {
					changed := false
					for i := range 16 {
						for v := range 32 {
							k := (b*16+i)*32 + v
							if i < pos && math.Float32bits(got[k]) != math.Float32bits(want[k]) {
								t.Fatalf("changing token %d changed logit [%d, %d, %d]: %g -> %g", pos, b, i, v, want[k], got[k])
							}
							if i == pos && got[k] != want[k] {
								changed = true
							}
						}
					}
					if !changed {
						t.Errorf("changing token %d of row %d left its own logits unchanged", pos, b)
					}
				}
			}
		})
	}
}

// The same seed gives bit-identical weights and logits; another seed gives
// other weights.
func TestDeterministic(t *testing.T) {
	t.Parallel()
	cfg := arch.Config{Width: 32, HeadDim: 8, Context: 16, Vocab: 32}
	tok := randomTokens(rand.New(rand.NewPCG(8, 9)), 2, 16, 32)
	for _, c := range allCases() {
		t.Run(c.name, func(t *testing.T) {
			logits := func(seed int64) []float32 {
				m, err := New(c.g, cfg)
				if err != nil {
					t.Fatal(err)
				}
				out, err := forwardExec(t, m, newTestStore(t, seed)).Call(tok)
				if err != nil {
					t.Fatal(err)
				}
				return flat[float32](t, out[0])
			}
			a, b, other := logits(42), logits(42), logits(43)
			same := true
			for i := range a {
				if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
					t.Fatalf("seed 42 twice: logit %d differs: %g vs %g", i, a[i], b[i])
				}
				if a[i] != other[i] {
					same = false
				}
			}
			if same {
				t.Error("seeds 42 and 43 gave identical logits")
			}
		})
	}
}

// Weights are drawn from the store's seeded RNG with the documented inits.
func TestInitialisation(t *testing.T) {
	t.Parallel()
	g := classGenome(5) // Rec-1 then GMemless
	cfg := arch.Config{Width: 64, Context: 16}
	_, store := buildModel(t, g, cfg, 7, dtypes.Float32)
	stats := func(path string) (mean, std, lo, hi float64) {
		v := store.GetVariable(path)
		if v == nil {
			t.Fatalf("no variable %s", path)
		}
		x := flat[float32](t, v.MustValue())
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, f := range x {
			mean += float64(f)
			lo, hi = math.Min(lo, float64(f)), math.Max(hi, float64(f))
		}
		mean /= float64(len(x))
		for _, f := range x {
			std += (float64(f) - mean) * (float64(f) - mean)
		}
		return mean, math.Sqrt(std / float64(len(x))), lo, hi
	}
	near := func(name string, got, want, tol float64) {
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.4g, want %.4g ± %.2g", name, got, want, tol)
		}
	}
	_, std, _, _ := stats("/embed")
	near("embed std", std, InitStd(64), 0.002)
	_, std, _, _ = stats("/slot_0/x")
	near("x std", std, InitStd(64), 0.002)
	_, std, _, _ = stats("/slot_1/down")
	near("down std", std, InitStd(64)/2, 0.001) // 1/sqrt(2*depth) with depth 2
	_, std, _, _ = stats("/slot_0/o")
	near("o std", std, InitStd(64)/2, 0.002)
	mean, std, lo, hi := stats("/slot_0/norm")
	if mean != 1 || std != 0 || lo != 1 || hi != 1 {
		t.Errorf("norm not all ones: mean %g std %g", mean, std)
	}
	_, _, lo, hi = stats("/slot_0/a_log")
	if lo < 0 || hi > math.Log(16)+1e-6 {
		t.Errorf("a_log outside [0, log 16]: [%g, %g]", lo, hi)
	}
	_, _, lo, hi = stats("/slot_0/dt_bias")
	// softplus(dt_bias) in [1e-3, 1e-1].
	sp := func(x float64) float64 { return math.Log1p(math.Exp(x)) }
	if sp(lo) < 1e-3*(1-1e-3) || sp(hi) > 1e-1*(1+1e-3) {
		t.Errorf("softplus(dt_bias) outside [1e-3, 1e-1]: [%g, %g]", sp(lo), sp(hi))
	}
}
