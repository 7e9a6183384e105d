package genome

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

func TestParseForms(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want Genome
	}{
		{"11111-91111", Genome{{1, 1, 1, 1, 1}, {9, 1, 1, 1, 1}}},
		{"  11111-91111\n", Genome{{1, 1, 1, 1, 1}, {9, 1, 1, 1, 1}}},
		{"10.1.1.1.1", Genome{{10, 1, 1, 1, 1}}},
		{"1.12.2.12.2", Genome{{1, 12, 2, 12, 2}}},
		{"11111 - 18.2.1.2.1", Genome{{1, 1, 1, 1, 1}, {18, 2, 1, 2, 1}}},
		{"1.1.1.1.1", Genome{{1, 1, 1, 1, 1}}},
		{"007.1.1.1.1", Genome{{7, 1, 1, 1, 1}}},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.in, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("Parse(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestParseErrorsNameSlotAndGene(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		slot int // 0-based
		gene Gene
	}{
		{"1x111", 0, GeneFeatGroup},
		{"11111-91a11", 1, GeneFeatStrategy},
		{"11111-9111", 1, GeneShareStrategy},
		{"111", 0, GeneShareGroup},
		{"11111-11111-111111", 2, NoGene},
		{"11111--11111", 1, NoGene},
		{"11111-", 1, NoGene},
		{"1.2.x.1.1", 0, GeneFeatStrategy},
		{"1..1.1.1", 0, GeneFeatGroup},
		{"1.1.1.1", 0, GeneShareStrategy},
		{"1.1.1.1.1.1", 0, NoGene},
		{"1.1.1.1.-1", 0, GeneShareStrategy},
		{"x1111", 0, GeneClass},
		{"11111-1.1.1.1.9999999", 1, GeneShareStrategy},
		{"1111é", 0, GeneShareStrategy},
	}
	for _, tt := range tests {
		_, err := Parse(tt.in)
		var ge *GeneError
		if !errors.As(err, &ge) {
			t.Errorf("Parse(%q) error = %v, want a *GeneError", tt.in, err)
			continue
		}
		if ge.Slot != tt.slot || ge.Gene != tt.gene {
			t.Errorf("Parse(%q) error names slot %d gene %v (%v), want slot %d gene %v",
				tt.in, ge.Slot+1, ge.Gene, err, tt.slot+1, tt.gene)
		}
		want := "slot " + strconv.Itoa(tt.slot+1)
		if tt.gene != NoGene {
			want += " gene " + tt.gene.String()
		}
		if !strings.HasPrefix(err.Error(), want) {
			t.Errorf("Parse(%q) error %q does not start with %q", tt.in, err, want)
		}
	}
	if _, err := Parse("   "); err == nil {
		t.Error("Parse of blank text succeeded")
	}
}

func TestFormat(t *testing.T) {
	t.Parallel()
	g := Genome{{1, 1, 1, 1, 1}, {10, 2, 1, 2, 1}, {1, 12, 2, 12, 2}, {9, 9, 2, 9, 4}}
	want := "11111-10.2.1.2.1-1.12.2.12.2-99294"
	if got := Format(g); got != want {
		t.Fatalf("Format = %q, want %q", got, want)
	}
	if got := g.String(); got != want {
		t.Fatalf("String = %q, want %q", got, want)
	}
}

func TestJSON(t *testing.T) {
	t.Parallel()
	g := Genome{{1, 1, 1, 1, 1}, {10, 2, 1, 2, 1}}
	data, err := json.Marshal(struct {
		G Genome `json:"g"`
	}{g})
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"g":"11111-10.2.1.2.1"}`; string(data) != want {
		t.Fatalf("json = %s, want %s", data, want)
	}
	for _, in := range []string{
		`"11111-10.2.1.2.1"`,
		`{"slots":[{"class":1,"feat_group":1,"feat_strategy":1,"share_group":1,"share_strategy":1},` +
			`{"class":10,"feat_group":2,"feat_strategy":1,"share_group":2,"share_strategy":1}]}`,
	} {
		var got Genome
		if err := json.Unmarshal([]byte(in), &got); err != nil {
			t.Errorf("Unmarshal(%s): %v", in, err)
			continue
		}
		if !slices.Equal(got, g) {
			t.Errorf("Unmarshal(%s) = %v, want %v", in, got, g)
		}
	}
	for _, in := range []string{`"11x11"`, `{"slots":[]}`, `{"text":"11111"}`, `[1,2]`, `42`} {
		var got Genome
		if err := json.Unmarshal([]byte(in), &got); err == nil {
			t.Errorf("Unmarshal(%s) succeeded with %v", in, got)
		}
	}
	var null Genome
	if err := json.Unmarshal([]byte("null"), &null); err != nil || null != nil {
		t.Errorf("Unmarshal(null) = %v, %v", null, err)
	}
	if data, _ := json.Marshal(Genome(nil)); string(data) != "null" {
		t.Errorf("Marshal(nil) = %s, want null", data)
	}
}

func TestText(t *testing.T) {
	t.Parallel()
	g := MustParse("11111-92121")
	text, err := g.MarshalText()
	if err != nil || string(text) != "11111-92121" {
		t.Fatalf("MarshalText = %q, %v", text, err)
	}
	var back Genome
	if err := back.UnmarshalText(text); err != nil || !slices.Equal(back, g) {
		t.Fatalf("UnmarshalText = %v, %v", back, err)
	}
	if err := back.UnmarshalText([]byte("1111")); err == nil {
		t.Fatal("UnmarshalText of a short block succeeded")
	}
}
