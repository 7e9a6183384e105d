package main

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

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

// syncBuffer is a bytes.Buffer safe for the printer's timer goroutine.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// A state held back by the rate limit of plain lines is printed when the
// interval ends: a training that starts right after a line was printed,
// and then runs for minutes, shows as training, not as the idle moment
// before it.
func TestProgressPrintsHeldBackState(t *testing.T) {
	t.Parallel()
	var buf syncBuffer
	p := newProgressPrinter(&buf)
	p.every = 50 * time.Millisecond
	defer p.finish()
	p.update(pipeline.Progress{Generation: 0, Generations: 3, Total: 8, Done: 1})
	p.update(pipeline.Progress{Generation: 0, Generations: 3, Total: 8, Done: 1, Training: 1})
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(buf.String(), "(training 1, failed 0)"); {
		if time.Now().After(deadline) {
			t.Fatalf("the held-back state was never printed:\n%s", buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := strings.Count(buf.String(), "\n"); n != 2 {
		t.Errorf("want 2 lines, got %d:\n%s", n, buf.String())
	}
}
