package genome

import (
	"fmt"
	"strings"
)

// Preset names.
const (
	PresetTransformerPP = "transformer++"
	PresetStriped       = "striped"
)

// PresetNames returns the names Preset accepts.
func PresetNames() []string { return []string{PresetTransformerPP, PresetStriped} }

// Preset returns a canonical seed genome of the paper, with no sharing:
//   - "transformer++": SA-1 and GMemless alternating, starting with SA-1;
//   - "striped": token mixers at even slots and GMemless at odd slots; the
//     token mixers are Rec-1 except every fourth (mixer index 3, 7, 11, ...
//     counting from 0), which is SA-1.
//
// depth must be even, >= 2 and <= MaxDepth. Names are matched
// case-insensitively.
func Preset(name string, depth int) (Genome, error) {
	var mixer func(m int) int
	switch strings.ToLower(strings.TrimSpace(name)) {
	case PresetTransformerPP:
		mixer = func(int) int { return SA1 }
	case PresetStriped:
		mixer = func(m int) int {
			if m%4 == 3 {
				return SA1
			}
			return Rec1
		}
	default:
		return nil, fmt.Errorf("unknown preset %q (known: %s)", name, strings.Join(PresetNames(), ", "))
	}
	if depth < 2 || depth%2 != 0 {
		return nil, fmt.Errorf("preset %s needs an even depth >= 2 (a token mixer and a GMemless per pair), got %d", name, depth)
	}
	if depth > MaxDepth {
		return nil, fmt.Errorf("preset %s: depth must be <= %d (genome.MaxDepth), got %d", name, MaxDepth, depth)
	}
	g := make(Genome, depth)
	for i := range g {
		class := GMemless
		if i%2 == 0 {
			class = mixer(i / 2)
		}
		g[i] = Slot{Class: class, FeatGroup: i + 1, FeatStrategy: FeatNone, ShareGroup: i + 1, ShareStrategy: ShareNone}
	}
	return g, nil
}
