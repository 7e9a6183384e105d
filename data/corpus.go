package data

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// DefaultValFraction is the tail fraction of every document held out for
// validation when CorpusOptions.ValFraction is zero.
const DefaultValFraction = 0.1

// CorpusOptions configures LoadCorpus and NewCorpus.
type CorpusOptions struct {
	// ValFraction is the tail fraction of every document held out for
	// validation, in (0, 1). Zero means DefaultValFraction (0.1).
	ValFraction float64
}

func (o CorpusOptions) withDefaults() CorpusOptions {
	if o.ValFraction == 0 {
		o.ValFraction = DefaultValFraction
	}
	return o
}

// Corpus is a byte-level text corpus split into training and validation
// text. The split is fixed by the documents alone: the last ValFraction of
// every document (rounded to whole bytes) is validation text, the rest is
// training text. The training parts of all documents, in document order,
// are joined with one '\n' between documents; so are the validation parts.
// Every window of either split therefore comes from one side of the split.
type Corpus struct {
	Files []string // the documents read, in order (paths, or names given to NewCorpus)
	Train []byte   // training text
	Val   []byte   // validation text
}

// LoadCorpus reads a corpus from a file, or from every regular file under
// a directory, recursively, in lexical path order. Files and directories
// whose names start with '.' are skipped.
func LoadCorpus(path string, opts CorpusOptions) (*Corpus, error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reading corpus: %w", err)
	}
	var files []string
	if info.IsDir() {
		err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != path && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("listing corpus directory %q: %w", path, err)
		}
		slices.Sort(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("corpus directory %q has no files", path)
		}
	} else {
		files = []string{path}
	}
	docs := make([][]byte, len(files))
	for i, f := range files {
		docs[i], err = os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading corpus file: %w", err)
		}
	}
	return NewCorpus(files, docs, opts)
}

// NewCorpus splits documents held in memory; names label them in Files.
func NewCorpus(names []string, docs [][]byte, opts CorpusOptions) (*Corpus, error) {
	opts = opts.withDefaults()
	if !(opts.ValFraction > 0 && opts.ValFraction < 1) {
		return nil, fmt.Errorf("validation fraction must be in (0, 1), got %v", opts.ValFraction)
	}
	if len(names) != len(docs) {
		return nil, errors.New("NewCorpus: names and docs differ in length")
	}
	c := &Corpus{Files: slices.Clone(names)}
	for i, d := range docs {
		cut := len(d) - int(math.Round(float64(len(d))*opts.ValFraction))
		if i > 0 {
			c.Train = append(c.Train, '\n')
			c.Val = append(c.Val, '\n')
		}
		c.Train = append(c.Train, d[:cut]...)
		c.Val = append(c.Val, d[cut:]...)
	}
	if len(c.Train) == 0 {
		return nil, errors.New("corpus is empty")
	}
	return c, nil
}

// UnigramPerplexity is the perplexity of text under the byte unigram
// distribution estimated from fit with add-one smoothing:
// exp(-mean log p(b)). With fit == text it is the perplexity of the best
// context-free byte model of text, a baseline any language model must beat.
func UnigramPerplexity(fit, text []byte) float64 {
	var counts [ByteVocab]float64
	for _, b := range fit {
		counts[b]++
	}
	total := float64(len(fit)) + ByteVocab
	if len(text) == 0 {
		return math.NaN()
	}
	var nll float64
	for _, b := range text {
		nll -= math.Log((counts[b] + 1) / total)
	}
	return math.Exp(nll / float64(len(text)))
}
