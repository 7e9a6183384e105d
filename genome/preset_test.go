package genome

import (
	"fmt"
	"testing"
)

func TestPresets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		depth int
		want  string
	}{
		{"transformer++", 2, "11111-92121"},
		{"transformer++", 6, "11111-92121-13131-94141-15151-96161"},
		{"Striped", 8, "51111-92121-53131-94141-55151-96161-17171-98181"},
	}
	for _, tt := range tests {
		g, err := Preset(tt.name, tt.depth)
		if err != nil {
			t.Fatalf("Preset(%s, %d): %v", tt.name, tt.depth, err)
		}
		if Format(g) != tt.want {
			t.Errorf("Preset(%s, %d) = %s, want %s", tt.name, tt.depth, g, tt.want)
		}
		checkCanonical(t, tt.name, g, Space{Depth: tt.depth})
	}
	g, err := Preset("striped", 16)
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range g {
		want := GMemless
		switch {
		case i%2 == 0 && (i/2)%4 == 3:
			want = SA1
		case i%2 == 0:
			want = Rec1
		}
		if s.Class != want {
			t.Errorf("striped slot %d is class %d, want %d", i, s.Class, want)
		}
	}
	for _, bad := range []struct {
		name  string
		depth int
	}{{"transformer++", 3}, {"striped", 0}, {"striped", -2}, {"mamba", 8}} {
		if _, err := Preset(bad.name, bad.depth); err == nil {
			t.Errorf("Preset(%s, %d) succeeded", bad.name, bad.depth)
		}
	}
	if n := PresetNames(); len(n) != 2 {
		t.Errorf("PresetNames = %v", n)
	}
}

func ExamplePreset() {
	g, _ := Preset("striped", 8)
	fmt.Println(g)
	// Output: 51111-92121-53131-94141-55151-96161-17171-98181
}

func ExampleRepair() {
	g := MustParse("11211-91211-11211-91211")
	fmt.Println(Repair(g, Space{}))
	// Output: 11211-92221-11231-92241
}

func ExampleParse() {
	g, err := Parse("11111-1.12.2.12.2")
	fmt.Println(g[1].FeatGroup, err)
	_, err = Parse("11111-9x111")
	fmt.Println(err)
	// Output:
	// 12 <nil>
	// slot 2 gene feat_group: 'x' is not a digit
}
