package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Sampler draws the next token from logits: greedy at temperature 0, else
// from softmax(logits/temperature) restricted to the TopK most likely
// tokens (all when TopK is 0). Deterministic given its seed.
type Sampler struct {
	temperature float64
	topK        int
	rng         *rand.Rand
}

// NewSampler returns a sampler; temperature must be >= 0 and topK >= 0.
func NewSampler(temperature float64, topK int, seed uint64) (*Sampler, error) {
	if temperature < 0 || math.IsNaN(temperature) || math.IsInf(temperature, 0) {
		return nil, fmt.Errorf("temperature must be a finite number >= 0, got %v", temperature)
	}
	if topK < 0 {
		return nil, fmt.Errorf("top-k must be >= 0, got %d", topK)
	}
	return &Sampler{temperature: temperature, topK: topK, rng: rand.New(rand.NewPCG(seed, 0x5eed))}, nil
}

// Sample returns the index of the token drawn from logits.
func (s *Sampler) Sample(logits []float32) int {
	best := 0
	for i, v := range logits {
		if v > logits[best] {
			best = i
		}
	}
	if s.temperature == 0 || len(logits) < 2 {
		return best
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	// Highest first; ties by index, so the order is deterministic.
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	if s.topK > 0 && s.topK < len(idx) {
		idx = idx[:s.topK]
	}
	w := make([]float64, len(idx))
	top := float64(logits[idx[0]])
	var sum float64
	for i, j := range idx {
		w[i] = math.Exp((float64(logits[j]) - top) / s.temperature)
		sum += w[i]
	}
	r := s.rng.Float64() * sum
	for i, j := range idx {
		r -= w[i]
		if r < 0 {
			return j
		}
	}
	return idx[len(idx)-1]
}
