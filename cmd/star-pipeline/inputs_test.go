package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A run whose in-process workers would fail every candidate for want of
// the corpus or a writable artifact directory is refused before anything is
// written.
func TestSubmitChecksLocalInputs(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ yaml, want string }{
		{"objectives: [perplexity]\npopulation: 4\ngenerations: 0\n", "`star-pipeline data brown` installs"},
		{"objectives: [perplexity]\npopulation: 4\ngenerations: 0\nquality: {corpus: nowhere.txt}\n", "corpus nowhere.txt"},
		{"objectives: [mad_score]\npopulation: 4\ngenerations: 0\nartifacts: /proc/no-such-dir\n", "artifacts /proc/no-such-dir"},
	} {
		dir := workdir(t, tc.yaml)
		_, stderr, code := runCLI(t, dir, nil, "submit", "--config", "search.yaml")
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%q: exit %d\n%s", tc.yaml, code, stderr)
		}
		if _, err := os.Stat(filepath.Join(dir, "star.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%q: a refused run wrote a database", tc.yaml)
		}
	}
}
