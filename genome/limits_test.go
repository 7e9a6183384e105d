package genome

import (
	"encoding/json"
	"runtime"
	"strings"
	"testing"
)

// allocated returns the bytes f allocates. Tests that use it do not call
// t.Parallel, so nothing else in the package allocates meanwhile.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// TestDepthLimit checks that every way into a genome refuses more than
// MaxDepth slots before it allocates them.
func TestDepthLimit(t *testing.T) {
	const huge = 10_000_002 // even, so only the limit refuses it
	var err error
	if n := allocated(func() { _, err = Preset(PresetStriped, huge) }); err == nil || n > 1<<20 {
		t.Errorf("Preset(striped, %d) = %v after allocating %d bytes; want an error and no allocation", huge, err, n)
	} else if !strings.Contains(err.Error(), "1024") {
		t.Errorf("Preset error %q does not name the limit", err)
	}
	if _, err := Preset(PresetTransformerPP, MaxDepth); err != nil {
		t.Errorf("Preset at MaxDepth: %v", err)
	}
	if _, err := Preset(PresetTransformerPP, MaxDepth+2); err == nil {
		t.Error("Preset above MaxDepth accepted")
	}

	text := strings.Repeat("91111-", MaxDepth) + "91111"
	if _, err := Parse(text); err == nil || !strings.Contains(err.Error(), "slots") {
		t.Errorf("Parse of %d slots = %v, want an error about the slot count", MaxDepth+1, err)
	}
	if g, err := Parse(text[len("91111-"):]); err != nil || len(g) != MaxDepth {
		t.Errorf("Parse of MaxDepth slots = %d slots, %v", len(g), err)
	}
	var g Genome
	if err := json.Unmarshal([]byte(`"`+text+`"`), &g); err == nil {
		t.Error("UnmarshalJSON accepted more than MaxDepth slots")
	}

	if err := (Space{Depth: MaxDepth + 1}).Validate(); err == nil {
		t.Error("Space.Validate accepted a depth above MaxDepth")
	}
	if err := (Space{Depth: MaxDepth}).Validate(); err != nil {
		t.Errorf("Space.Validate(MaxDepth): %v", err)
	}
	long := make(Genome, MaxDepth+1)
	for i := range long {
		long[i] = Slot{Class: GMemless, FeatGroup: 1, FeatStrategy: FeatNone, ShareGroup: 1, ShareStrategy: ShareNone}
	}
	if err := CheckRanges(long, Space{}); err == nil {
		t.Error("CheckRanges accepted more than MaxDepth slots")
	}
	if err := Validate(long, Space{}); err == nil {
		t.Error("Validate accepted more than MaxDepth slots")
	}
}
