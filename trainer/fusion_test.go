package trainer

import (
	"slices"
	"testing"
)

// TestFusionKeepsTrainingBitIdentical: the backend's elementwise fusion
// (third_party/compute, ops/fusion.go) fuses the SwiGLU gate, the softmax
// and AdamW's updates of this model; three steps with it give the same
// losses, bit for bit, as three steps without it (GOMLX_FUSION=off, read
// when a graph is compiled).
func TestFusionKeepsTrainingBitIdentical(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a width-128 hybrid twice")
	}
	fused := trainBLASModel(t)
	t.Setenv("GOMLX_FUSION", "off")
	unfused := trainBLASModel(t)
	if !slices.Equal(fused, unfused) {
		t.Fatalf("fused and unfused training differ:\n%v\n%v", fused, unfused)
	}
}
