package data

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestEncodeDecode(t *testing.T) {
	t.Parallel()
	text := []byte("héllo\x00\xff")
	tok := Encode(text)
	if len(tok) != len(text) || tok[len(tok)-1] != 255 {
		t.Fatalf("Encode(%q) = %v", text, tok)
	}
	if got := Decode(tok); !bytes.Equal(got, text) {
		t.Fatalf("Decode(Encode(%q)) = %q", text, got)
	}
	if got := Decode([]int32{65, 300, -1}); string(got) != "A??" {
		t.Fatalf("Decode out of range = %q", got)
	}
}

func TestNewCorpusSplitsTailOfEveryDocument(t *testing.T) {
	t.Parallel()
	docs := [][]byte{[]byte("0123456789"), []byte("abcdefghijklmnopqrst")}
	c, err := NewCorpus([]string{"a", "b"}, docs, CorpusOptions{ValFraction: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(c.Train), "012345678\nabcdefghijklmnopqr"; got != want {
		t.Errorf("Train = %q, want %q", got, want)
	}
	if got, want := string(c.Val), "9\nst"; got != want {
		t.Errorf("Val = %q, want %q", got, want)
	}
	if _, err := NewCorpus([]string{"a"}, docs[:1], CorpusOptions{ValFraction: 1}); err == nil {
		t.Error("ValFraction 1 accepted")
	}
}

func TestLoadCorpusReadsDirectoryInPathOrder(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(rel, text string) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("b.txt", "bbbbbbbbbB")
	write("a/z.txt", "zzzzzzzzzZ")
	write("a/.hidden", "hidden")
	write(".git/x", "ignored")
	c, err := LoadCorpus(dir, CorpusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, "a/z.txt"), filepath.Join(dir, "b.txt")}
	if !slices.Equal(c.Files, want) {
		t.Fatalf("Files = %v, want %v", c.Files, want)
	}
	if string(c.Train) != "zzzzzzzzz\nbbbbbbbbb" || string(c.Val) != "Z\nB" {
		t.Fatalf("split = %q / %q", c.Train, c.Val)
	}
	single, err := LoadCorpus(filepath.Join(dir, "b.txt"), CorpusOptions{ValFraction: 0.5})
	if err != nil || string(single.Val) != "bbbbB" {
		t.Fatalf("single file: %v %q", err, single.Val)
	}
	if _, err := LoadCorpus(filepath.Join(dir, "missing"), CorpusOptions{}); err == nil {
		t.Error("missing path accepted")
	}
}

func testCorpus(t *testing.T) *Corpus {
	t.Helper()
	var docs [][]byte
	for i := range 4 {
		docs = append(docs, bytes.Repeat([]byte{'a' + byte(i), 'x', 'y', ' '}, 100))
	}
	c, err := NewCorpus([]string{"1", "2", "3", "4"}, docs, CorpusOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestTextTaskBatchesArePureFunctionsOfSeedAndStep(t *testing.T) {
	t.Parallel()
	task, err := NewTextTask("mem", testCorpus(t), 16, 0)
	if err != nil {
		t.Fatal(err)
	}
	b1, b2 := task.TrainBatch(7, 3, 5), task.TrainBatch(7, 3, 5)
	if !slices.Equal(b1.Inputs, b2.Inputs) || !slices.Equal(b1.Targets, b2.Targets) {
		t.Fatal("same seed and step gave different batches")
	}
	if b3 := task.TrainBatch(7, 4, 5); slices.Equal(b1.Inputs, b3.Inputs) {
		t.Fatal("steps 3 and 4 gave the same batch")
	}
	if b4 := task.TrainBatch(8, 3, 5); slices.Equal(b1.Inputs, b4.Inputs) {
		t.Fatal("seeds 7 and 8 gave the same batch")
	}
	w := task.Windows(7, 3, 5)
	for r := range 5 {
		win := Decode(w[r*17 : (r+1)*17])
		if !bytes.Contains(task.Corpus().Train, win) {
			t.Fatalf("window %q is not in the training text", win)
		}
		if !slices.Equal(b1.Inputs[r*16:(r+1)*16], w[r*17:r*17+16]) || !slices.Equal(b1.Targets[r*16:(r+1)*16], w[r*17+1:(r+1)*17]) {
			t.Fatalf("row %d: inputs/targets are not the window shifted by one", r)
		}
	}
}

func TestTextTaskEvalCoversValidationOnce(t *testing.T) {
	t.Parallel()
	task, err := NewTextTask("mem", testCorpus(t), 8, 0)
	if err != nil {
		t.Fatal(err)
	}
	batches := task.EvalBatches(3)
	var targets []int32
	for _, b := range batches {
		if b.Size != 3 || b.Length != 8 {
			t.Fatalf("batch shape %dx%d", b.Size, b.Length)
		}
		for _, v := range b.Targets {
			if v != Ignore {
				targets = append(targets, v)
			}
		}
	}
	if want := Encode(task.ValTargets()); !slices.Equal(targets, want) {
		t.Fatalf("scored targets (%d) differ from ValTargets (%d)", len(targets), len(want))
	}
	if len(targets) != (len(task.Corpus().Val)-1)/8*8 {
		t.Fatalf("scored %d targets of %d validation bytes", len(targets), len(task.Corpus().Val))
	}
	if _, err := NewTextTask("mem", testCorpus(t), 1000, 0); err == nil {
		t.Error("context longer than the validation text accepted")
	}
}

func TestUnigramPerplexity(t *testing.T) {
	t.Parallel()
	text := bytes.Repeat([]byte("ab"), 10000)
	if got := UnigramPerplexity(text, text); math.Abs(got-2) > 0.05 {
		t.Fatalf("UnigramPerplexity of a fair two-symbol text = %v, want about 2", got)
	}
}

func TestNewTaskSpecs(t *testing.T) {
	t.Parallel()
	if _, err := NewTask("mad:no-such-task", TaskOptions{}); err == nil {
		t.Error("unknown MAD task accepted")
	}
	if _, err := NewTask("image:x", TaskOptions{}); err == nil {
		t.Error("unknown kind accepted")
	}
	if _, err := NewTask("text", TaskOptions{}); err == nil {
		t.Error("spec without colon accepted")
	}
	task, err := NewTask("mad:in_context_recall", TaskOptions{MAD: MADConfig{TrainExamples: 4, TestExamples: 2}})
	if err != nil || task.Name() != "mad:in-context-recall" || task.Metric() != Accuracy {
		t.Fatalf("NewTask(mad:in_context_recall) = %v, %v", task, err)
	}
}
