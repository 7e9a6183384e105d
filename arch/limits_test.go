package arch

import (
	"math"
	"testing"

	"github.com/star-pipeline/star-pipeline/genome"
)

// maxConfig sets every dimension to its limit.
func maxConfig() Config {
	return Config{Width: MaxWidth, Vocab: MaxVocab, Context: MaxContext, HeadDim: 64, UntieEmbedding: true,
		FFNExpansion: MaxExpansion, ShortKernel: MaxKernel, FilterFeatures: MaxFilterFeatures,
		FilterHidden: MaxFilterHidden, Experts: MaxExperts, TopK: MaxExperts, MoEExpansion: MaxExpansion, DType: FP32}
}

// TestCostsAtLimits checks that no count of the cost model overflows at the
// limits: a genome of genome.MaxDepth slots of one class, every dimension
// at its limit, costs the same in int64 as in float64.
func TestCostsAtLimits(t *testing.T) {
	t.Parallel()
	cfg := maxConfig()
	if err := cfg.Validate(); err != nil {
		t.Fatalf("the limits themselves do not validate: %v", err)
	}
	for _, cl := range genome.Classes() {
		g := make(genome.Genome, genome.MaxDepth)
		for i := range g {
			g[i] = genome.Slot{Class: cl.ID, FeatGroup: i + 1, FeatStrategy: genome.FeatNone, ShareGroup: i + 1, ShareStrategy: genome.ShareNone}
		}
		c, err := Costs(g, cfg)
		if err != nil {
			t.Fatalf("%s: %v", cl.Name, err)
		}
		params, cache := float64(c.GlobalParams), 0.0
		fwd, filter := 2*float64(cfg.Width)*float64(cfg.Vocab), 0.0
		for _, s := range c.PerSlot {
			if s.Params <= 0 || s.CacheBytes < 0 || s.ForwardFLOPs <= 0 || s.FilterFLOPs < 0 || s.InferenceFLOPs <= 0 {
				t.Fatalf("%s slot %d: a count wrapped: %+v", cl.Name, s.Index, s)
			}
			params += float64(s.Params)
			cache += float64(s.CacheBytes)
			fwd += float64(s.ForwardFLOPs)
			filter += float64(s.FilterFLOPs)
		}
		for _, x := range []struct {
			name      string
			got       int64
			wantFloat float64
		}{
			{"params", c.Params, params}, {"cache_bytes", c.CacheBytes, cache},
			{"forward flops", c.FLOPs.Forward, fwd}, {"filter flops", c.FLOPs.FilterForward, filter},
			{"train flops", c.FLOPs.Train, 3 * fwd},
		} {
			if x.wantFloat >= math.MaxInt64/2 || math.Abs(float64(x.got)-x.wantFloat) > 1e-9*x.wantFloat {
				t.Errorf("%s: %s = %d, float sum %g: too close to or past int64 overflow", cl.Name, x.name, x.got, x.wantFloat)
			}
		}
	}
}

// TestConfigLimits checks that each limit is accepted and one past it is
// refused with the field's name.
func TestConfigLimits(t *testing.T) {
	t.Parallel()
	def := Config{}.WithDefaults()
	for _, tt := range []struct {
		name string
		set  func(c *Config, v int)
		max  int
	}{
		{"width", func(c *Config, v int) { c.Width = v }, MaxWidth},
		{"vocab", func(c *Config, v int) { c.Vocab = v }, MaxVocab},
		{"context", func(c *Config, v int) { c.Context = v }, MaxContext},
		{"ffn expansion", func(c *Config, v int) { c.FFNExpansion = v }, MaxExpansion},
		{"filter hidden", func(c *Config, v int) { c.FilterHidden = v }, MaxFilterHidden},
		{"experts", func(c *Config, v int) { c.Experts = v }, MaxExperts},
		{"moe expansion", func(c *Config, v int) { c.MoEExpansion = v }, MaxExpansion},
	} {
		c := def
		tt.set(&c, tt.max)
		if tt.name == "width" {
			c.HeadDim = 64
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s at its limit %d: %v", tt.name, tt.max, err)
		}
		tt.set(&c, tt.max+1)
		if err := c.Validate(); err == nil {
			t.Errorf("%s = %d (past the limit) accepted", tt.name, tt.max+1)
		}
	}
}
