package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/star-pipeline/star-pipeline/plot/plottest"
	"github.com/star-pipeline/star-pipeline/storage"
)

// fixtureDB writes the plottest runs into a lineage database in a
// temporary directory and returns its path.
func fixtureDB(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "star.db")
	ctx := context.Background()
	db, err := storage.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := plottest.Populate(ctx, db); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestPlotCLI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dbPath := fixtureDB(t)
	dir := t.TempDir()
	out := func(name string) string { return filepath.Join(dir, name) }
	tests := []struct {
		name   string
		args   []string
		code   int
		file   string   // image written
		stdout []string // substrings of stdout
		stderr []string // substrings of stderr
	}{
		{name: "pareto png", args: []string{"plot", plottest.Demo, "--kind", "pareto", "--out", out("front.png")},
			file: out("front.png"), stdout: []string{"wrote " + out("front.png")}},
		{name: "pareto svg axes", args: []string{"plot", plottest.Demo, "--kind", "pareto", "--x", "params", "--y",
			"mad_score", "--out", out("front.svg")}, file: out("front.svg")},
		{name: "pareto one objective", args: []string{"plot", plottest.Perplexity, "--kind=pareto", "--out", out("ppl.png")},
			file: out("ppl.png")},
		{name: "hypervolume svg", args: []string{"plot", plottest.Demo, "--kind", "hypervolume", "--out", out("hv.svg"),
			"--width", "640", "--height", "400"}, file: out("hv.svg")},
		{name: "hypervolume empty run", args: []string{"plot", plottest.Empty, "--kind", "hypervolume", "--out", out("hv0.png")},
			file: out("hv0.png")},
		{name: "classes json", args: []string{"plot", plottest.Demo, "--kind", "classes", "--generation", "1",
			"--out", out("classes.png"), "--json"}, file: out("classes.png"),
			stdout: []string{`"kind": "classes"`, `"generations"`, `"front_slots"`}},
		{name: "no run", args: []string{"plot", "--kind", "pareto", "--out", out("x.png")}, code: 2,
			stderr: []string{"missing RUN_ID"}},
		{name: "no kind", args: []string{"plot", plottest.Demo, "--out", out("x.png")}, code: 2, stderr: []string{"--kind"}},
		{name: "bad kind", args: []string{"plot", plottest.Demo, "--kind", "pie", "--out", out("x.png")}, code: 2},
		{name: "no out", args: []string{"plot", plottest.Demo, "--kind", "pareto"}, code: 2, stderr: []string{"--out"}},
		{name: "bad format", args: []string{"plot", plottest.Demo, "--kind", "pareto", "--out", out("x.pdf")}, code: 2,
			stderr: []string{".png or .svg"}},
		{name: "bad objective", args: []string{"plot", plottest.Demo, "--kind", "pareto", "--x", "latency",
			"--out", out("x.png")}, code: 2, stderr: []string{`"latency"`, "mad_score, params, generation"}},
		{name: "axes on hypervolume", args: []string{"plot", plottest.Demo, "--kind", "hypervolume", "--x", "params",
			"--out", out("x.png")}, code: 2},
		{name: "bad generation", args: []string{"plot", plottest.Demo, "--kind", "classes", "--generation", "7",
			"--out", out("x.png")}, code: 2, stderr: []string{"generations 0 to 3"}},
		{name: "tiny image", args: []string{"plot", plottest.Demo, "--kind", "pareto", "--width", "10",
			"--out", out("x.png")}, code: 2},
		{name: "unknown run", args: []string{"plot", "nope", "--kind", "pareto", "--out", out("x.png")}, code: 1,
			stderr: []string{"no run nope"}},
		{name: "missing directory", args: []string{"plot", plottest.Demo, "--kind", "pareto",
			"--out", out("missing/x.png")}, code: 1},
	}
	for _, tc := range tests {
		args := append(tc.args, "--db", dbPath)
		stdout, stderr, code := runCLI(t, dir, nil, args...)
		if code != tc.code {
			t.Errorf("%s: exit %d, want %d\nstderr: %s", tc.name, code, tc.code, stderr)
			continue
		}
		for _, s := range tc.stdout {
			if !strings.Contains(stdout, s) {
				t.Errorf("%s: stdout lacks %q:\n%.500s", tc.name, s, stdout)
			}
		}
		for _, s := range tc.stderr {
			if !strings.Contains(stderr, s) {
				t.Errorf("%s: stderr lacks %q:\n%s", tc.name, s, stderr)
			}
		}
		if tc.file != "" {
			checkImageFile(t, tc.file)
		}
		if tc.code != 0 {
			if _, err := os.Stat(out("x.png")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("%s: failed but wrote an image", tc.name)
			}
		}
	}

	// --json prints the data the image shows.
	stdout, _, code := runCLI(t, dir, nil, "plot", plottest.Demo, "--kind", "pareto", "--out", out("f.svg"),
		"--json", "--db", dbPath)
	var got struct {
		Data struct {
			Points []struct {
				Candidate string
				Front     bool
			}
		}
	}
	if code != 0 || json.Unmarshal([]byte(stdout), &got) != nil {
		t.Fatalf("plot --json: exit %d, %s", code, stdout)
	}
	var front []string
	for _, p := range got.Data.Points {
		if p.Front {
			front = append(front, p.Candidate)
		}
	}
	if strings.Join(front, " ") != strings.Join(plottest.DemoFront, " ") {
		t.Errorf("front %v, want %v", front, plottest.DemoFront)
	}
}

// checkImageFile fails unless path is a PNG that decodes or an SVG whose
// XML parses with an svg root.
func checkImageFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	switch filepath.Ext(path) {
	case ".png":
		img, err := png.Decode(f)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
			t.Errorf("%s: %v is too small", path, b)
		}
	case ".svg":
		dec := xml.NewDecoder(f)
		root := ""
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			if se, ok := tok.(xml.StartElement); ok && root == "" {
				root = se.Name.Local
			}
		}
		if root != "svg" {
			t.Errorf("%s: root element %q, want svg", path, root)
		}
	default:
		t.Fatalf("%s: not an image name", path)
	}
}
