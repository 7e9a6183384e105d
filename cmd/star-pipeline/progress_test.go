package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/star-pipeline/star-pipeline/pipeline"
)

// Progress lines count the candidates being trained, not only those done.
func TestProgressShowsTraining(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	p := newProgressPrinter(&buf)
	p.update(pipeline.Progress{Generation: 0, Generations: 3, Total: 8, Training: 2})
	p.update(pipeline.Progress{Generation: 3, Generations: 3, Final: true, Total: 6, Done: 1, Training: 3, Failed: 1})
	out := buf.String()
	for _, want := range []string{"generation 0/3  candidates 0/8 (training 2, failed 0)",
		"final stage  retrainings 1/6 (training 3, failed 1)"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress lacks %q:\n%s", want, out)
		}
	}
}
