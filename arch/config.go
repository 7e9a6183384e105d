// Package arch turns a genome plus run dimensions into the exact model it
// stands for: parameter layout and static costs (parameters, inference
// cache). docs/architecture.md is its specification; the trainer's model
// builder follows the same page.
package arch

import (
	"errors"
	"fmt"
	"strings"
)

// DType names the dtype used to size the inference cache.
type DType string

// Supported dtypes.
const (
	BF16 DType = "bf16"
	FP16 DType = "fp16"
	FP32 DType = "fp32"
)

// Bytes returns the size of one value of d in bytes, or 0 for an unknown
// dtype.
func (d DType) Bytes() int {
	switch d {
	case BF16, FP16:
		return 2
	case FP32:
		return 4
	}
	return 0
}

// ParseDType returns the dtype named s (bf16, fp16 or fp32, case-insensitive).
func ParseDType(s string) (DType, error) {
	d := DType(strings.ToLower(strings.TrimSpace(s)))
	if d.Bytes() == 0 {
		return "", fmt.Errorf("unknown dtype %q (known: bf16, fp16, fp32)", s)
	}
	return d, nil
}

// Config holds the dimensions a genome is built at. The zero value of every
// field means its documented default; call WithDefaults before use.
type Config struct {
	Width          int   `json:"width" yaml:"width"`                     // model width d; default 64
	Vocab          int   `json:"vocab" yaml:"vocab"`                     // vocabulary size; default 256 (bytes)
	Context        int   `json:"context" yaml:"context"`                 // sequence length L; default 256
	HeadDim        int   `json:"head_dim" yaml:"head_dim"`               // default 16 below width 256, else 64
	UntieEmbedding bool  `json:"untie_embedding" yaml:"untie_embedding"` // default false: the head reuses the embedding
	FFNExpansion   int   `json:"ffn_expansion" yaml:"ffn_expansion"`     // GMemless hidden = FFNExpansion*d; default 4
	ShortKernel    int   `json:"short_kernel" yaml:"short_kernel"`       // GConv-1 and SA-2 conv length; default 3
	FilterFeatures int   `json:"filter_features" yaml:"filter_features"` // GConv-2 positional features; default 9 (odd)
	FilterHidden   int   `json:"filter_hidden" yaml:"filter_hidden"`     // GConv-2 filter MLP hidden; default 32
	Experts        int   `json:"experts" yaml:"experts"`                 // MoE experts; default 4
	TopK           int   `json:"top_k" yaml:"top_k"`                     // MoE experts per token; default 2
	MoEExpansion   int   `json:"moe_expansion" yaml:"moe_expansion"`     // MoE expert hidden = MoEExpansion*d; default 2
	DType          DType `json:"dtype" yaml:"dtype"`                     // cache dtype; default bf16
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.Width, 64)
	def(&c.Vocab, 256)
	def(&c.Context, 256)
	if c.HeadDim == 0 {
		// 16 at small widths (4 heads at width 64); from width 256 on,
		// heads of 64 as in most language models of that size: narrower
		// heads there multiply the [B, H, L, L] score work without adding
		// parameters or cache. 16 where 64 does not divide the width.
		c.HeadDim = 16
		if c.Width >= 256 && c.Width%64 == 0 {
			c.HeadDim = 64
		}
	}
	def(&c.FFNExpansion, 4)
	def(&c.ShortKernel, 3)
	def(&c.FilterFeatures, 9)
	def(&c.FilterHidden, 32)
	def(&c.Experts, 4)
	def(&c.TopK, 2)
	def(&c.MoEExpansion, 2)
	if c.DType == "" {
		c.DType = BF16
	}
	return c
}

// Heads returns the number of heads, Width / HeadDim.
func (c Config) Heads() int { return c.Width / c.HeadDim }

// DTypeBytes returns the bytes per cached value of the config's dtype, or 0
// for an unknown dtype.
func (c Config) DTypeBytes() int { return c.DType.Bytes() }

// Limits of the dimensions, generous for real models (the paper's 1B
// model: width 2048, context 4096, vocabularies of tens of thousands) and
// small enough that every count of the cost model (parameters, cache
// bytes, FLOPs) of a genome of genome.MaxDepth slots stays far from int64
// overflow. Validate refuses larger values; docs/limits.md lists them all.
const (
	MaxWidth          = 1 << 14 // model width d
	MaxVocab          = 1 << 20 // vocabulary size
	MaxContext        = 1 << 20 // context length L
	MaxExpansion      = 64      // ffn_expansion and moe_expansion
	MaxKernel         = 4096    // short_kernel
	MaxFilterFeatures = 4095    // filter_features (odd)
	MaxFilterHidden   = MaxWidth
	MaxExperts        = 1024 // MoE experts (and top_k)
)

// Validate checks a config after WithDefaults: positive sizes within
// limits, a head dim that divides the width and is even (rotary rotates
// channel pairs), an odd number of filter features (t/L, then a sin and a
// cos per frequency), TopK <= Experts, a short kernel no longer than the
// context, and a known dtype. It reports every problem it finds.
func (c Config) Validate() error {
	var errs []error
	check := func(name string, v, lo, hi int) bool {
		if v < lo || v > hi {
			errs = append(errs, fmt.Errorf("%s must be in %d..%d, got %d", name, lo, hi, v))
			return false
		}
		return true
	}
	width := check("width", c.Width, 1, MaxWidth)
	check("vocab", c.Vocab, 1, MaxVocab)
	context := check("context", c.Context, 1, MaxContext)
	if check("head dim", c.HeadDim, 1, MaxWidth) && width {
		if c.Width%c.HeadDim != 0 {
			errs = append(errs, fmt.Errorf("head dim %d does not divide width %d; pick a divisor of the width", c.HeadDim, c.Width))
		}
		if c.HeadDim%2 != 0 {
			errs = append(errs, fmt.Errorf("head dim %d must be even (rotary rotates channel pairs)", c.HeadDim))
		}
	}
	check("ffn expansion", c.FFNExpansion, 1, MaxExpansion)
	if check("short kernel", c.ShortKernel, 1, MaxKernel) && context && c.ShortKernel > c.Context {
		errs = append(errs, fmt.Errorf("short kernel %d is longer than the context %d", c.ShortKernel, c.Context))
	}
	if check("filter features", c.FilterFeatures, 1, MaxFilterFeatures) && c.FilterFeatures%2 == 0 {
		errs = append(errs, fmt.Errorf("filter features must be odd (t/L, then sin and cos per frequency), got %d", c.FilterFeatures))
	}
	check("filter hidden", c.FilterHidden, 1, MaxFilterHidden)
	if check("experts", c.Experts, 1, MaxExperts) {
		check("top k", c.TopK, 1, c.Experts)
	}
	check("moe expansion", c.MoEExpansion, 1, MaxExpansion)
	if c.DType.Bytes() == 0 {
		errs = append(errs, fmt.Errorf("unknown dtype %q (known: bf16, fp16, fp32)", c.DType))
	}
	return errors.Join(errs...)
}
