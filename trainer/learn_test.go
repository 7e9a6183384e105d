package trainer

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/arch"
	"github.com/star-pipeline/star-pipeline/data"
	"github.com/star-pipeline/star-pipeline/genome"
)

// grammarText writes n sentences of a small random grammar: text with
// word-level structure that a byte-level model can learn quickly.
func grammarText(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	pick := func(w []string) string { return w[r.IntN(len(w))] }
	det := []string{"the", "a", "my", "every", "that"}
	adj := []string{"small", "old", "green", "quiet", "happy", "heavy"}
	noun := []string{"cat", "dog", "farmer", "teacher", "river", "house", "child", "bird"}
	verb := []string{"sees", "likes", "follows", "carries", "finds", "paints"}
	var sb strings.Builder
	for range n {
		sb.WriteString(pick(det) + " ")
		if r.IntN(2) == 0 {
			sb.WriteString(pick(adj) + " ")
		}
		sb.WriteString(pick(noun) + " " + pick(verb) + " " + pick(det) + " " + pick(noun) + ".\n")
	}
	return []byte(sb.String())
}

// TestTextPerplexityBeatsUnigram trains a small model on generated text and
// checks that its validation perplexity is well below the unigram
// perplexity of the same validation bytes.
func TestTextPerplexityBeatsUnigram(t *testing.T) {
	t.Parallel()
	docs := [][]byte{grammarText(1, 1500), grammarText(2, 1500)}
	corpus, err := data.NewCorpus([]string{"a", "b"}, docs, data.CorpusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	task, err := data.NewTextTask("grammar", corpus, 32, 4096)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Train(context.Background(), genome.MustParse("11111-91111"), arch.Config{Width: 32}, task,
		Config{Steps: 150, BatchSize: 16, LearningRate: 3e-3, Seed: 1, Backend: testBackend, ThroughputSeconds: -1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	unigram := data.UnigramPerplexity(task.ValTargets(), task.ValTargets())
	t.Logf("validation perplexity %.3f, unigram %.3f (%d tokens), train loss %.3f, %v", res.ValPerplexity, unigram,
		res.Scored, res.FinalLoss, res.WallTime.Round(time.Millisecond))
	if res.Scored != len(task.ValTargets()) {
		t.Fatalf("scored %d targets, validation has %d", res.Scored, len(task.ValTargets()))
	}
	if res.ValPerplexity > 0.6*unigram {
		t.Fatalf("validation perplexity %.3f is not well below the unigram perplexity %.3f", res.ValPerplexity, unigram)
	}
}
