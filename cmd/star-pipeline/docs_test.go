package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// mdRef matches a Markdown file named in text, such as docs/design.md or
// third_party/README.md.
var mdRef = regexp.MustCompile(`[A-Za-z0-9_./-]*[A-Za-z0-9_-]+\.md\b`)

// Everything the code and the documentation cite must be in the
// repository: every *.md named in a Go or Markdown file exists, relative to
// the repository root or to the citing file (URLs and vendored modules
// aside).
func TestCitedDocsExist(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		if d.IsDir() {
			if rel == "third_party" || rel == "node_modules" || strings.HasPrefix(d.Name(), ".") && rel != "." ||
				rel == "bin" || rel == filepath.Join("data", "brown") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(path); ext != ".go" && ext != ".md" {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, line := range strings.Split(string(data), "\n") {
			for _, loc := range mdRef.FindAllStringIndex(line, -1) {
				ref := line[loc[0]:loc[1]]
				if before := line[:loc[0]]; strings.HasSuffix(before, "/") || strings.HasSuffix(before, "> ") {
					continue // part of a URL, or a file a shell example writes
				}
				if i := strings.LastIndex(line[:loc[0]], "http"); i >= 0 && !strings.ContainsAny(line[i:loc[0]], " \t(") {
					continue
				}
				checked++
				if fileExists(filepath.Join(root, ref)) || fileExists(filepath.Join(filepath.Dir(path), ref)) {
					continue
				}
				t.Errorf("%s cites %s, which the repository does not contain", rel, ref)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked == 0 {
		t.Fatal("no citation checked: the walk found no file")
	}
}
