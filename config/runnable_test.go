package config

import (
	"errors"
	"strings"
	"testing"
)

// TestRunnable checks that configs every candidate of which would fail are
// refused up front: no allowed class builds at the dims, or a MAD task the
// data generator refuses.
func TestRunnable(t *testing.T) {
	t.Parallel()
	cases := []struct{ yaml, path, msg string }{
		// 3 heads: SA-3 needs a multiple of 4, SA-4 of 2.
		{"search: {classes: [3, 4], width: 48, head_dim: 16}", "search.classes", "SA-3"},
		{"search: {width: 36, head_dim: 9}", "search.head_dim", "even"},
		{"quality: {mad: [{name: in_context_recall, length: 9}]}", "quality.mad[0]", "even"},
		{"quality: {mad: [{name: selective_copying, tokens: 16, length: 20}]}", "quality.mad[0]", "2*tokens+1"},
		{"quality: {mad: [{name: fuzzy_recall, length: 8, max_key_len: 3}]}", "quality.mad[0]", "max key length"},
	}
	for _, tc := range cases {
		_, err := Parse([]byte(tc.yaml))
		var es Errors
		if !errors.As(err, &es) {
			t.Errorf("Parse(%q) = %v, want an error for %s", tc.yaml, err, tc.path)
			continue
		}
		found := false
		for _, e := range es {
			if e.Path == tc.path && strings.Contains(e.Msg, tc.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("Parse(%q) = %v, want an error for %s mentioning %q", tc.yaml, err, tc.path, tc.msg)
		}
	}
	// Some allowed classes that do not build are fine: the search skips
	// them and repairs the seeds into the rest.
	for _, ok := range []string{
		"search: {classes: [1, 3], width: 48, head_dim: 16}",
		"search: {width: 48, head_dim: 16}\nseeds: [transformer++, striped, '31111-91111-31111-91111-31111-91111-31111-91111']",
	} {
		mustParse(t, ok)
	}
}

func TestCheckMeasurable(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "objectives: [params, cache_bytes]")
	if err := c.CheckMeasurable(StaticObjectives, "--static-eval"); err != nil {
		t.Errorf("static objectives refused: %v", err)
	}
	c = mustParse(t, "objectives: [mad_score, params, latency]")
	err := c.CheckMeasurable(StaticObjectives, "--static-eval")
	var es Errors
	if !errors.As(err, &es) || len(es) != 2 || es[0].Path != "objectives[0]" || es[1].Path != "objectives[2]" {
		t.Fatalf("CheckMeasurable = %v, want errors for objectives[0] and objectives[2]", err)
	}
	for _, want := range []string{"--static-eval", "mad_score", "params, cache_bytes"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not mention %q", err, want)
		}
	}
}
