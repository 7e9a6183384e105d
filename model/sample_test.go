package model

import "testing"

func TestSampler(t *testing.T) {
	t.Parallel()
	logits := []float32{0.1, 2, 1.9, -3, 0}
	g, _ := NewSampler(0, 0, 1)
	if got := g.Sample(logits); got != 1 {
		t.Errorf("greedy sample = %d, want 1", got)
	}
	top2, _ := NewSampler(5, 2, 7)
	counts := map[int]int{}
	for range 400 {
		counts[top2.Sample(logits)]++
	}
	if len(counts) != 2 || counts[1] == 0 || counts[2] == 0 {
		t.Errorf("top-2 at a high temperature drew %v, want only tokens 1 and 2, both", counts)
	}
	a, _ := NewSampler(1, 0, 3)
	b, _ := NewSampler(1, 0, 3)
	for i := range 50 {
		if x, y := a.Sample(logits), b.Sample(logits); x != y {
			t.Fatalf("draw %d: same seed gave %d and %d", i, x, y)
		}
	}
	if _, err := NewSampler(-1, 0, 1); err == nil {
		t.Error("a negative temperature was accepted")
	}
	if _, err := NewSampler(1, -1, 1); err == nil {
		t.Error("a negative top-k was accepted")
	}
}
