// Package arch turns a genome plus run dimensions into the exact model it
// stands for: parameter layout and static costs (parameters, inference
// cache). docs/architecture.md is its specification; the trainer's model
// builder follows the same page.
package arch

// DType names the dtype used to size the inference cache.
type DType string

// Supported dtypes.
const (
	BF16 DType = "bf16"
	FP16 DType = "fp16"
	FP32 DType = "fp32"
)

// Config holds the dimensions a genome is built at. The zero value of every
// field means its documented default; call WithDefaults before use.
type Config struct {
	Width          int   `json:"width" yaml:"width"`                     // model width d; default 64
	Vocab          int   `json:"vocab" yaml:"vocab"`                     // vocabulary size; default 256 (bytes)
	Context        int   `json:"context" yaml:"context"`                 // sequence length L; default 256
	HeadDim        int   `json:"head_dim" yaml:"head_dim"`               // default 16 below width 512, else 64
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
		c.HeadDim = 16
		if c.Width >= 512 {
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
