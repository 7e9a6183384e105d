package model

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute/dtypes"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/genome"
)

// contractWeight is one weight of a class as docs/architecture.md lists it.
type contractWeight struct {
	name string
	role string // "op", "feat", "feat:B", "feat:C"
	size int64
}

// contractWeights transcribes the per-class tables of docs/architecture.md.
func contractWeights(c *genome.Class, cfg arch.Config) []contractWeight {
	d := int64(cfg.Width)
	h := int64(cfg.Width / cfg.HeadDim)
	k := int64(cfg.ShortKernel)
	switch c.Family {
	case genome.Attention:
		dkv := d / int64(c.KVRepeat)
		w := []contractWeight{{"q", "feat:C", d * d}, {"k", "feat:B", d * dkv}, {"v", "feat", d * dkv}, {"o", "op", d * d}}
		if c.QKVConv {
			w = append(w, contractWeight{"q_conv", "feat:C", k * d}, contractWeight{"k_conv", "feat:B", k * dkv},
				contractWeight{"v_conv", "feat", k * dkv})
		}
		return w
	case genome.Recurrence:
		n := int64(c.StateExpansion)
		return []contractWeight{{"x", "op", d * d}, {"z", "op", d * d}, {"b", "feat:B", d * n}, {"c", "feat:C", d * n},
			{"dt", "feat", d * h}, {"dt_bias", "feat", h}, {"a_log", "feat", h}, {"o", "op", d * d}}
	case genome.Convolution:
		w := []contractWeight{{"v", "op", d * d}, {"b", "feat:B", d * d}, {"c", "feat:C", d * d}, {"o", "op", d * d}}
		if c.LongConv {
			p, f := int64(cfg.FilterFeatures), int64(cfg.FilterHidden)
			return append(w, contractWeight{"filter_w1", "feat", p * f}, contractWeight{"filter_b1", "feat", f},
				contractWeight{"filter_w2", "feat", f * d})
		}
		return append(w, contractWeight{"kernel", "feat", k * d})
	case genome.Memoryless:
		e := int64(cfg.FFNExpansion) * d
		return []contractWeight{{"gate", "feat", d * e}, {"up", "feat", d * e}, {"down", "op", e * d}}
	case genome.Mixture:
		ex, m := int64(cfg.Experts), int64(cfg.MoEExpansion)*d
		return []contractWeight{{"router", "feat", d * ex}, {"gate", "feat", ex * d * m}, {"up", "feat", ex * d * m},
			{"down", "op", ex * m * d}}
	}
	panic(c.Name)
}

// contractParams counts the parameters of g as docs/architecture.md defines
// them: featurizer weights once per (owner slot, name), B/C weights absent
// where reused.
func contractParams(g genome.Genome, cfg arch.Config) int64 {
	cfg = cfg.WithDefaults()
	d, v := int64(cfg.Width), int64(cfg.Vocab)
	n := v*d + d
	if cfg.UntieEmbedding {
		n += d * v
	}
	seen := map[string]bool{}
	wiring := g.Wiring()
	for i, s := range g {
		n += d
		c := genome.MustClass(s.Class)
		halves := []string{""}
		if c.IsDiff() {
			halves = []string{"a", "b"}
			n++ // lambda
		}
		for _, half := range halves {
			for _, w := range contractWeights(c.Base(), cfg) {
				switch {
				case w.role == "op":
					n += w.size
					continue
				case w.role == "feat:B" && wiring[i].BSource != i, w.role == "feat:C" && wiring[i].CSource != i:
					continue
				}
				key := fmt.Sprintf("%d/%s/%s", wiring[i].FeatOwner, half, w.name)
				if !seen[key] {
					seen[key] = true
					n += w.size
				}
			}
		}
	}
	return n
}

// CountParams equals arch.Params (and an independent transcription of the
// contract) for every class and the sharing genomes, and the variables are
// arch.Layout, name for name, in order.
func TestParamsMatchArch(t *testing.T) {
	t.Parallel()
	configs := map[string]arch.Config{
		"tiny":    tinyConfig(),
		"default": {Context: 16},
		"untied":  {Width: 32, HeadDim: 8, Context: 8, UntieEmbedding: true, Experts: 3, TopK: 1, ShortKernel: 4},
	}
	for cname, cfg := range configs {
		for _, c := range allCases() {
			t.Run(cname+"/"+c.name, func(t *testing.T) {
				_, store := buildModel(t, c.g, cfg, 1, dtypes.Float32)
				got := CountParams(store.RootScope())
				want, err := arch.Params(c.g, cfg)
				if err != nil {
					t.Fatal(err)
				}
				if got != want {
					for v := range store.RootScope().IterVariables() {
						t.Logf("%s %s", v.Path(), v.Shape())
					}
					t.Fatalf("%s: CountParams = %d, arch.Params = %d", c.g, got, want)
				}
				if doc := contractParams(c.g, cfg); got != doc {
					t.Fatalf("%s: CountParams = %d, transcribed contract = %d", c.g, got, doc)
				}
				// Names, shapes and creation order are arch.Layout's.
				layout, err := arch.Layout(c.g, cfg)
				if err != nil {
					t.Fatal(err)
				}
				var vars []string
				for v := range store.RootScope().IterVariables() {
					if v.Trainable {
						vars = append(vars, fmt.Sprintf("%s %v", strings.TrimPrefix(v.Path(), "/"), v.Shape().Dimensions))
					}
				}
				var params []string
				for _, p := range layout {
					params = append(params, fmt.Sprintf("%s %v", p.Name, p.Shape))
				}
				if !slices.Equal(vars, params) {
					t.Fatalf("variables (creation order):\n%s\narch.Layout:\n%s", strings.Join(vars, "\n"), strings.Join(params, "\n"))
				}
			})
		}
	}
}
