package arch

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/star-pipeline/star-pipeline/genome"
)

// small is the config of the hand-computed cases: d=16, hd=4 (H=4), V=10,
// L=16, k=3, P=3, F=4, E=4, TopK=2, m=2, e=4, tied embeddings, bf16.
var small = Config{Width: 16, HeadDim: 4, Vocab: 10, Context: 16, ShortKernel: 3, FilterFeatures: 3,
	FilterHidden: 4, Experts: 4, TopK: 2, MoEExpansion: 2, FFNExpansion: 4, DType: BF16}

func setup(t *testing.T, text string) genome.Genome {
	t.Helper()
	g, err := genome.Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestParamsPerClass(t *testing.T) {
	t.Parallel()
	// Model-level weights of a one-slot model: embed 10·16 + final_norm 16
	// + the slot's norm 16 = 192.
	const global = 192
	want := map[int]int64{
		1:  1024, // q 16·16 + k 16·16 + v 16·16 + o 16·16
		2:  1168, // SA-1 + q_conv 3·16 + k_conv 3·16 + v_conv 3·16
		3:  640,  // q 256 + k 16·4 + v 16·4 + o 256
		4:  768,  // q 256 + k 16·8 + v 16·8 + o 256
		5:  1352, // x, z, o 3·256 + b, c 2·16·16 + dt 16·4 + dt_bias 4 + a_log 4
		6:  904,  // x, z, o 768 + b, c 2·16·2 + dt 64 + dt_bias 4 + a_log 4
		7:  1072, // v, b, c, o 4·256 + kernel 3·16
		8:  1104, // v, b, c, o 1024 + filter_w1 3·4 + filter_b1 4 + filter_w2 4·16
		9:  3072, // gate 16·64 + up 16·64 + down 64·16
		10: 2049, // 2·1024 + lambda
		11: 2337, // 2·1168 + 1
		12: 1281, // 2·640 + 1
		13: 1537, // 2·768 + 1
		14: 2705, // 2·1352 + 1
		15: 1809, // 2·904 + 1
		16: 2145, // 2·1072 + 1
		17: 2209, // 2·1104 + 1
		18: 6208, // router 16·4 + gate 4·16·32 + up 4·16·32 + down 4·32·16
	}
	for id := 1; id <= genome.NumClasses; id++ {
		g := genome.Genome{{Class: id, FeatGroup: 1, FeatStrategy: 1, ShareGroup: 1, ShareStrategy: 1}}
		got, err := Params(g, small)
		if err != nil {
			t.Fatalf("class %d: %v", id, err)
		}
		if got != global+want[id] {
			t.Errorf("class %d (%s): params %d, want %d", id, genome.MustClass(id).Name, got, global+want[id])
		}
		untied := small
		untied.UntieEmbedding = true
		got, err = Params(g, untied)
		if err != nil {
			t.Fatal(err)
		}
		if got != global+want[id]+160 { // head 16·10
			t.Errorf("class %d untied: params %d, want %d", id, got, global+want[id]+160)
		}
	}
}

func TestParamsWithSharing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		genome string
		want   int64
	}{
		// embed 160 + final_norm 16 + norms 16 per slot, then the slots.
		{"no sharing", "11111-12121", 160 + 16 + 32 + 1024 + 1024},
		{"featurizers tied: the second slot adds o only", "11211-11221", 160 + 16 + 32 + 1024 + 256},
		{"B and C reused: the second slot has v and o", "11114-12114", 160 + 16 + 32 + 1024 + 512},
		{"C reused: the second slot has k, v, o", "11113-12113", 160 + 16 + 32 + 1024 + 768},
		{"SA-2 reuses B: no k, no k_conv", "21112-22112", 160 + 16 + 32 + 1168 + 864},
		{"Rec-1 reuses B: no b", "51112-52112", 160 + 16 + 32 + 1352 + 1096},
		{"GMemless tied: the second slot adds down", "91211-91221", 160 + 16 + 32 + 3072 + 1024},
		{"diff halves reuse B and C: no a/q a/k b/q b/k", "10.1.1.1.4-10.2.1.1.4", 160 + 16 + 32 + 2049 + 1025},
		{"diff tied featurizers: o, o, lambda", "10.1.2.1.1-10.1.2.2.1", 160 + 16 + 32 + 2049 + 513},
		{"MoE tied: down only", "18.1.2.1.1-18.1.2.2.1", 160 + 16 + 32 + 6208 + 2048},
		// Slot 1 reuses slot 0's keys and owns a featurizer group with slot 2,
		// which computes its own keys: slot 2 creates slot_1/k.
		{"owner without B, member with B", "11112-12212-12221", 160 + 16 + 48 + 1024 + 768 + 512},
	}
	for _, tt := range tests {
		got, err := Params(setup(t, tt.genome), small)
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got != tt.want {
			t.Errorf("%s (%s): params %d, want %d", tt.name, tt.genome, got, tt.want)
		}
	}
}

func TestLayout(t *testing.T) {
	t.Parallel()
	ps, err := Layout(setup(t, "11112-12212-12221"), small)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range ps {
		names = append(names, p.Name)
	}
	want := "embed slot_0/norm slot_0/q slot_0/k slot_0/v slot_0/o " +
		"slot_1/norm slot_1/q slot_1/v slot_1/o " +
		"slot_2/norm slot_1/k slot_2/o final_norm"
	if got := strings.Join(names, " "); got != want {
		t.Errorf("layout names\n got %s\nwant %s", got, want)
	}
	for _, p := range ps {
		if p.Name == "slot_1/k" && (p.Slot != 1 || p.Role != RoleFeatB || fmt.Sprint(p.Shape) != "[16 16]") {
			t.Errorf("slot_1/k = %+v", p)
		}
	}
	ps, err = Layout(setup(t, "10.1.1.1.1-18.2.1.2.1"), Config{Width: 16, HeadDim: 4, Vocab: 10, UntieEmbedding: true})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, p := range ps {
		if seen[p.Name] {
			t.Errorf("duplicate parameter %s", p.Name)
		}
		seen[p.Name] = true
	}
	for _, name := range []string{"slot_0/a/q", "slot_0/b/o", "slot_0/lambda", "slot_1/router", "head"} {
		if !seen[name] {
			t.Errorf("layout lacks %s", name)
		}
	}
}

func TestTransformerPPCache1B(t *testing.T) {
	t.Parallel()
	g, err := genome.Preset("transformer++", 48)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Width: 2048, Context: 4096, DType: BF16}
	got, err := CacheBytes(g, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got != 805_306_368 {
		t.Fatalf("1B Transformer++ cache = %d bytes, want 805,306,368", got)
	}
}

func TestCachePerClass(t *testing.T) {
	t.Parallel()
	// Values at d=16, L=16, k=3; bytes are twice that (bf16).
	want := map[int]int64{
		1: 512, // K and V: 2·16·16
		2: 608, // 512 + conv state (3-1)·(16+16+16)
		3: 128, // 2·4·16
		4: 256, // 2·8·16
		5: 256, // 16·16
		6: 32,  // 16·2
		7: 32,  // 16·(3-1)
		8: 240, // 16·(16-1)
		9: 0, 18: 0,
	}
	for id := 1; id <= genome.NumClasses; id++ {
		base := id
		if id >= 10 && id <= 17 {
			base = id - 9
		}
		w := want[base]
		if base != id {
			w *= 2
		}
		g := genome.Genome{{Class: id, FeatGroup: 1, FeatStrategy: 1, ShareGroup: 1, ShareStrategy: 1}}
		got, err := CacheBytes(g, small)
		if err != nil {
			t.Fatal(err)
		}
		if got != 2*w {
			t.Errorf("class %d: cache %d bytes, want %d", id, got, 2*w)
		}
	}
	fp32 := small
	fp32.DType = FP32
	per, err := SlotCacheBytes(setup(t, "11114-12114-23132-24132"), fp32)
	if err != nil {
		t.Fatal(err)
	}
	// Slot 1 reuses K: V only. Slot 3 reuses K: V 256 + conv (3-1)·(16 + 16).
	if fmt.Sprint(per) != fmt.Sprint([]int64{4 * 512, 4 * 256, 4 * 608, 4 * 320}) {
		t.Errorf("per-slot cache = %v", per)
	}
}

func TestFLOPs(t *testing.T) {
	t.Parallel()
	const head = 2 * 16 * 10
	tests := []struct {
		genome                    string
		forward, filter, decoding int64
	}{
		// projections 2·1024, scores and values 4·L·d = 4·16·16
		{"11111", 2048 + 1024 + head, 0, 2048 + 1024 + head},
		// projections 2·1344; C·Bᵀ 2·L·n, segment sum 2·L·H, y 2·L·d; decoding 4·d·n
		{"51111", 2688 + 512 + 128 + 512 + head, 0, 2688 + 1024 + head},
		// v, b, c, o 2·1024, Toeplitz 2·L·d; filter 2·L·(3·4 + 4·16) per step
		{"81111", 2048 + 512 + head, 2432, 2048 + 512 + head},
		// router 2·64; TopK=2 of 4 experts, each 3 matmuls of 2·16·32
		{"18.1.1.1.1", 128 + 2*3*1024 + head, 0, 128 + 2*3*1024 + head},
		// SA-1 reusing B and C skips q and k: 2·512 + 1024
		{"11114-12114", 2*(2048+1024) - 1024 + head, 0, 2*(2048+1024) - 1024 + head},
		// tied weights still compute
		{"91211-91221", 2*6144 + head, 0, 2*6144 + head},
	}
	for _, tt := range tests {
		f, err := FLOPs(setup(t, tt.genome), small)
		if err != nil {
			t.Fatal(err)
		}
		if f.Forward != tt.forward || f.FilterForward != tt.filter || f.Inference != tt.decoding || f.Train != 3*tt.forward {
			t.Errorf("%s: FLOPs %+v, want forward %d filter %d inference %d", tt.genome, f, tt.forward, tt.filter, tt.decoding)
		}
		if got, want := f.TrainStep(4), 3*(tt.forward*4*16+tt.filter); got != want {
			t.Errorf("%s: TrainStep(4) = %d, want %d", tt.genome, got, want)
		}
	}
}

func TestCosts(t *testing.T) {
	t.Parallel()
	g := setup(t, "11112-12212-12221")
	c, err := Costs(g, small)
	if err != nil {
		t.Fatal(err)
	}
	if c.Params != 2528 || c.GlobalParams != 176 {
		t.Errorf("params %d global %d, want 2528 and 176", c.Params, c.GlobalParams)
	}
	// Per slot by name: slot 1 holds q, v, o and the k that slot 2 creates.
	got := []int64{c.PerSlot[0].Params, c.PerSlot[1].Params, c.PerSlot[2].Params}
	if fmt.Sprint(got) != "[1040 1040 272]" {
		t.Errorf("per-slot params %v", got)
	}
	var sum int64
	for _, s := range c.PerSlot {
		sum += s.CacheBytes
	}
	if sum != c.CacheBytes || c.PerSlot[1].CacheBytes != 2*256 {
		t.Errorf("cache %d, per slot %+v", c.CacheBytes, c.PerSlot)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	_, err := Params(setup(t, "11111-31111"), Config{Width: 16, HeadDim: 8})
	var ge *genome.GeneError
	if !errors.As(err, &ge) || ge.Slot != 1 || ge.Gene != genome.GeneClass {
		t.Errorf("SA-3 with 2 heads: %v, want an error naming slot 2 gene class", err)
	}
	_, err = Params(setup(t, "11111-91211"), small)
	if !errors.As(err, &ge) || ge.Slot != 1 {
		t.Errorf("invalid sharing: %v, want a gene error for slot 2", err)
	}
	if _, err := CacheBytes(setup(t, "11111"), Config{Width: 60, HeadDim: 16}); err == nil {
		t.Error("width not divisible by head dim accepted")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := (Config{}).WithDefaults().Validate(); err != nil {
		t.Fatalf("defaults invalid: %v", err)
	}
	bad := []struct {
		cfg  Config
		want string
	}{
		{Config{Width: 60, HeadDim: 16}, "divide"},
		{Config{Width: 63, HeadDim: 9}, "even"},
		{Config{Width: -1}, "width"},
		{Config{DType: "int8"}, "dtype"},
		{Config{TopK: 5}, "top k"},
		{Config{FilterFeatures: 8}, "odd"},
		{Config{ShortKernel: 300, Context: 16}, "longer than the context"},
		{Config{Vocab: -3}, "vocab"},
		{Config{Width: 1 << 20}, "width"},
	}
	for _, tt := range bad {
		err := tt.cfg.WithDefaults().Validate()
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%+v) = %v, want an error mentioning %q", tt.cfg, err, tt.want)
		}
	}
	for d, n := range map[DType]int{BF16: 2, FP16: 2, FP32: 4, "x": 0} {
		if got := (Config{DType: d}).DTypeBytes(); got != n {
			t.Errorf("DTypeBytes(%s) = %d, want %d", d, got, n)
		}
	}
	if d, err := ParseDType(" FP32 "); err != nil || d != FP32 {
		t.Errorf("ParseDType = %v, %v", d, err)
	}
	if _, err := ParseDType("int4"); err == nil {
		t.Error("ParseDType(int4) succeeded")
	}
}

func ExampleCosts() {
	g, _ := genome.Preset("transformer++", 48)
	c, _ := Costs(g, Config{Width: 2048, Context: 4096, DType: BF16})
	fmt.Println(c.Params, c.CacheBytes)
	// Output: 1611237376 805306368
}

func TestRandomGenomesAddUp(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(5, 6))
	cfg := Config{Width: 32, HeadDim: 8, Context: 32}
	for range 300 {
		g := genome.Random(r, genome.Space{Depth: 1 + r.IntN(10)})
		c, err := Costs(g, cfg)
		if err != nil {
			t.Fatalf("%s: %v", g, err)
		}
		ps, err := Layout(g, cfg)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		sum := c.GlobalParams
		var fwd int64 = 2 * 32 * 256
		for _, p := range ps {
			if names[p.Name] {
				t.Fatalf("%s: duplicate %s", g, p.Name)
			}
			names[p.Name] = true
		}
		for _, s := range c.PerSlot {
			sum += s.Params
			fwd += s.ForwardFLOPs
		}
		if sum != c.Params || sumParams(ps) != c.Params || fwd != c.FLOPs.Forward {
			t.Fatalf("%s: params %d, per-slot sum %d, layout %d; forward %d vs %d",
				g, c.Params, sum, sumParams(ps), c.FLOPs.Forward, fwd)
		}
		// Without sharing the model can only grow.
		plain := g.Clone()
		for i := range plain {
			plain[i].FeatGroup, plain[i].FeatStrategy, plain[i].ShareGroup, plain[i].ShareStrategy = i+1, 1, i+1, 1
		}
		pc, err := Costs(plain, cfg)
		if err != nil {
			t.Fatal(err)
		}
		if pc.Params < c.Params || pc.CacheBytes < c.CacheBytes || pc.FLOPs.Forward < c.FLOPs.Forward {
			t.Fatalf("%s costs more than its unshared form %s", g, plain)
		}
	}
}

// The default head dimension: 16 below width 256, 64 from 256 on where 64
// divides the width, else 16.
func TestDefaultHeadDim(t *testing.T) {
	for _, c := range []struct{ width, want int }{
		{64, 16}, {128, 16}, {192, 16}, {256, 64}, {288, 16}, {320, 64}, {512, 64}, {2048, 64},
	} {
		got := Config{Width: c.width}.WithDefaults()
		if got.HeadDim != c.want {
			t.Errorf("width %d: default head dim %d, want %d", c.width, got.HeadDim, c.want)
		}
		if err := got.Validate(); err != nil {
			t.Errorf("width %d: defaults do not validate: %v", c.width, err)
		}
	}
	if got := (Config{Width: 256, HeadDim: 16}).WithDefaults().HeadDim; got != 16 {
		t.Errorf("an explicit head dim 16 became %d", got)
	}
}
