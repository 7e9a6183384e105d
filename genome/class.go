// Package genome holds STAR's hierarchical genomes: the registry of LIV
// classes (each an operator genome plus featurizer genomes) and the backbone
// genome that stacks them, with parsing, repair, hashing and the variation
// operators of the evolutionary search. It imports no queue, no database and
// no tensor library.
package genome

import (
	"fmt"
	"strings"
)

// Family is the token-mixing structure of an operator (docs/design.md,
// section 1).
type Family int

const (
	// Attention is softmax attention: T_ij = sigma(C_i B_j), dense.
	Attention Family = iota + 1
	// Recurrence is a gated diagonal linear recurrence: semi-separable T.
	Recurrence
	// Convolution is a gated convolution: scaled Toeplitz T.
	Convolution
	// Memoryless is a gated linear unit: diagonal T, no token mixing.
	Memoryless
	// Mixture is a routed mixture of memoryless experts.
	Mixture
)

func (f Family) String() string {
	switch f {
	case Attention:
		return "attention"
	case Recurrence:
		return "recurrence"
	case Convolution:
		return "convolution"
	case Memoryless:
		return "memoryless"
	case Mixture:
		return "mixture"
	}
	return fmt.Sprintf("family(%d)", int(f))
}

// OperatorGenome is the 5-integer operator level of the hierarchy:
// featurizer class, token mixing (1 diagonal, 2 low rank, 3 scaled Toeplitz,
// 4 semi-separable), structured sparsity, nonlinearity (1 none, 2 softmax,
// 3 relu, 4 swish), channel mixing (1 diagonal, 2 dense, 3 grouped).
type OperatorGenome [5]int

func (o OperatorGenome) String() string {
	return fmt.Sprintf("%d%d%d%d%d", o[0], o[1], o[2], o[3], o[4])
}

// FeaturizerGenome is the featurizer level: how one feature group (Q, K, V,
// B, C, A, a gate, a filter...) is computed from the input.
type FeaturizerGenome struct {
	Name          string `json:"name"`           // feature group: "q", "k", "v", "b", "c", "a", "kernel", "gate", "up", "router"
	TokenMixing   int    `json:"token_mixing"`   // 1 diagonal (per token), 3 Toeplitz (conv), 4 implicit filter
	Sparsity      int    `json:"sparsity"`       // 1 dense
	Nonlinearity  int    `json:"nonlinearity"`   // 1 none, 2 softmax, 3 relu, 4 swish, 5 softplus
	ChannelMixing int    `json:"channel_mixing"` // 1 diagonal, 2 dense, 3 grouped
	Expansion     int    `json:"expansion"`      // output channels per input channel (state expansion for B/C)
	Repeat        int    `json:"repeat"`         // repeat factor (K/V heads shared by this many query heads)
}

// Feature names the feature groups that feature-group sharing can reuse.
const (
	FeatureB = "B" // keys (attention), input map (recurrence), input gate (convolution)
	FeatureC = "C" // queries (attention), output map (recurrence), output gate (convolution)
)

// Class is one LIV class of the registry: an operator genome plus its
// featurizer genomes, and the structural facts the cost model and the trainer
// need. Classes are data; see Classes.
type Class struct {
	ID          int                `json:"id"`
	Name        string             `json:"name"`
	Family      Family             `json:"family"`
	Operator    OperatorGenome     `json:"operator"`
	Featurizers []FeaturizerGenome `json:"featurizers"`

	// KVRepeat is the number of query heads per key/value head (attention).
	KVRepeat int `json:"kv_repeat,omitempty"`
	// QKVConv is true when Q/K/V featurizers add a short depthwise conv (SA-2).
	QKVConv bool `json:"qkv_conv,omitempty"`
	// StateExpansion is the recurrence state per channel.
	StateExpansion int `json:"state_expansion,omitempty"`
	// LongConv is true for an implicit filter as long as the context (GConv-2);
	// otherwise a convolution uses the run's short kernel length.
	LongConv bool `json:"long_conv,omitempty"`
	// Diff is the id of the base class of a differential variant
	// (LIV_a(x) - lambda * LIV_b(x)); 0 for a plain class.
	Diff int `json:"diff,omitempty"`
	// Features maps each feature group that can be shared (FeatureB,
	// FeatureC) to its signature; two slots may share a group only when
	// their signatures are equal. Empty for classes with no B/C.
	Features map[string]string `json:"features,omitempty"`
}

// IsDiff reports whether c is a differential variant.
func (c *Class) IsDiff() bool { return c.Diff != 0 }

// Base returns the class a differential variant is built from, or c itself.
func (c *Class) Base() *Class {
	if c.Diff == 0 {
		return c
	}
	return MustClass(c.Diff)
}

// TokenMixer reports whether the class mixes information across positions.
func (c *Class) TokenMixer() bool {
	return c.Family != Memoryless && c.Family != Mixture
}

// Class ids of the registry.
const (
	SA1      = 1
	SA2      = 2
	SA3      = 3
	SA4      = 4
	Rec1     = 5
	Rec2     = 6
	GConv1   = 7
	GConv2   = 8
	GMemless = 9
	// 10..17 are the differential variants of 1..8 (id = base + 9).
	MoE = 18
)

// NumClasses is the largest class id.
const NumClasses = 18

func feat(name string, tokenMixing, nonlin, channel, expansion, repeat int) FeaturizerGenome {
	return FeaturizerGenome{Name: name, TokenMixing: tokenMixing, Sparsity: 1, Nonlinearity: nonlin,
		ChannelMixing: channel, Expansion: expansion, Repeat: repeat}
}

func attention(id int, name string, kvRepeat int, conv bool) *Class {
	tm := 1
	if conv {
		tm = 3
	}
	return &Class{
		ID: id, Name: name, Family: Attention,
		Operator: OperatorGenome{id, 2, 1, 2, 3},
		Featurizers: []FeaturizerGenome{
			feat("q", tm, 1, 2, 1, 1),
			feat("k", tm, 1, 2, 1, kvRepeat),
			feat("v", tm, 1, 2, 1, kvRepeat),
		},
		KVRepeat: kvRepeat, QKVConv: conv,
		Features: map[string]string{
			FeatureC: "attn-q",
			FeatureB: fmt.Sprintf("attn-k/%d", kvRepeat),
		},
	}
}

func recurrence(id int, name string, state int) *Class {
	sig := fmt.Sprintf("rec/%d", state)
	return &Class{
		ID: id, Name: name, Family: Recurrence,
		Operator: OperatorGenome{id, 4, 1, 1, 1},
		Featurizers: []FeaturizerGenome{
			feat("b", 1, 1, 2, state, 1),
			feat("c", 1, 1, 2, state, 1),
			feat("a", 1, 5, 2, 1, 1),
		},
		StateExpansion: state,
		Features:       map[string]string{FeatureB: sig, FeatureC: sig},
	}
}

func convolution(id int, name string, long bool) *Class {
	kernel := feat("kernel", 3, 1, 1, 1, 1)
	if long {
		kernel = feat("kernel", 4, 1, 1, 1, 1)
	}
	return &Class{
		ID: id, Name: name, Family: Convolution,
		Operator: OperatorGenome{id, 3, 1, 1, 1},
		Featurizers: []FeaturizerGenome{
			feat("b", 1, 1, 2, 1, 1),
			feat("c", 1, 1, 2, 1, 1),
			kernel,
		},
		LongConv: long,
		Features: map[string]string{FeatureB: "conv", FeatureC: "conv"},
	}
}

func diff(base *Class) *Class {
	c := *base
	c.ID = base.ID + 9
	c.Name = base.Name + "-Diff"
	c.Operator = base.Operator
	c.Operator[0] = c.ID
	c.Diff = base.ID
	c.Features = make(map[string]string, len(base.Features))
	for k, v := range base.Features {
		c.Features[k] = "diff/" + v
	}
	return &c
}

var registry = func() [NumClasses + 1]*Class {
	var r [NumClasses + 1]*Class
	r[SA1] = attention(SA1, "SA-1", 1, false)
	r[SA2] = attention(SA2, "SA-2", 1, true)
	r[SA3] = attention(SA3, "SA-3", 4, false)
	r[SA4] = attention(SA4, "SA-4", 2, false)
	r[Rec1] = recurrence(Rec1, "Rec-1", 16)
	r[Rec2] = recurrence(Rec2, "Rec-2", 2)
	r[GConv1] = convolution(GConv1, "GConv-1", false)
	r[GConv2] = convolution(GConv2, "GConv-2", true)
	r[GMemless] = &Class{
		ID: GMemless, Name: "GMemless", Family: Memoryless,
		Operator: OperatorGenome{9, 1, 1, 4, 2},
		Featurizers: []FeaturizerGenome{
			feat("gate", 1, 4, 2, 4, 1),
			feat("up", 1, 1, 2, 4, 1),
		},
	}
	for id := SA1; id <= GConv2; id++ {
		r[id+9] = diff(r[id])
	}
	r[MoE] = &Class{
		ID: MoE, Name: "MoE", Family: Mixture,
		Operator: OperatorGenome{18, 1, 2, 4, 2},
		Featurizers: []FeaturizerGenome{
			feat("router", 1, 2, 2, 1, 1),
			feat("gate", 1, 4, 2, 2, 1),
			feat("up", 1, 1, 2, 2, 1),
		},
	}
	return r
}()

// Classes returns every class of the registry in id order.
func Classes() []*Class {
	out := make([]*Class, 0, NumClasses)
	for _, c := range registry[1:] {
		out = append(out, c)
	}
	return out
}

// LookupClass returns the class with the given id.
func LookupClass(id int) (*Class, error) {
	if id < 1 || id > NumClasses {
		return nil, fmt.Errorf("unknown LIV class %d (valid: 1..%d)", id, NumClasses)
	}
	return registry[id], nil
}

// MustClass returns the class with the given id and panics on an unknown id.
// Use it only with ids that come from validated genomes or constants.
func MustClass(id int) *Class {
	c, err := LookupClass(id)
	if err != nil {
		panic(err)
	}
	return c
}

// ClassByName returns the class with the given name (case-insensitive).
func ClassByName(name string) (*Class, error) {
	for _, c := range registry[1:] {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	return nil, fmt.Errorf("unknown LIV class name %q", name)
}
