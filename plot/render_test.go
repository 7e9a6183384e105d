package plot_test

import (
	"context"
	"encoding/xml"
	"errors"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	gplot "gonum.org/v1/plot"

	"github.com/star-pipeline/star-pipeline/plot"
	"github.com/star-pipeline/star-pipeline/plot/plottest"
	"github.com/star-pipeline/star-pipeline/runview"
	"github.com/star-pipeline/star-pipeline/storage"
)

func TestRender(t *testing.T) {
	t.Parallel()
	db, ctx := setup(t)
	plots := map[string]func(run string) (*gplot.Plot, error){
		"pareto": func(run string) (*gplot.Plot, error) {
			x, y := "mad_score", "params"
			if run == plottest.Perplexity {
				x, y = runview.Generation, "perplexity"
			}
			d, err := runview.Pareto(ctx, db, run, x, y)
			if err != nil {
				return nil, err
			}
			return plot.ParetoPlot(d)
		},
		"hypervolume": func(run string) (*gplot.Plot, error) {
			hv, err := runview.Hypervolume(ctx, db, run)
			if err != nil {
				return nil, err
			}
			return plot.HypervolumePlot(run, hv)
		},
		"classes": func(run string) (*gplot.Plot, error) {
			d, err := runview.Classes(ctx, db, run)
			if err != nil {
				return nil, err
			}
			return plot.ClassesPlot(d, -1)
		},
	}
	dir := t.TempDir()
	for kind, build := range plots {
		for _, run := range []string{plottest.Demo, plottest.Perplexity, plottest.Empty} {
			p, err := build(run)
			if err != nil {
				t.Fatalf("%s of %s: %v", kind, run, err)
			}
			for _, ext := range []string{"png", "svg"} {
				path := filepath.Join(dir, kind+"-"+run+"."+ext)
				if err := plot.Save(p, path, plot.DefaultWidth, plot.DefaultHeight); err != nil {
					t.Fatalf("saving %s: %v", path, err)
				}
				checkImage(t, path)
			}
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 3*3*2 {
		t.Errorf("%d files in the output directory, want 18 (no temporary files left)", len(entries))
	}
}

func TestRenderErrors(t *testing.T) {
	t.Parallel()
	p := gplot.New()
	dir := t.TempDir()
	for _, name := range []string{"a.pdf", "a", "a.png.txt"} {
		if err := plot.Save(p, filepath.Join(dir, name), plot.DefaultWidth, plot.DefaultHeight); !errors.Is(err, plot.ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
	if err := plot.Save(p, filepath.Join(dir, "missing", "a.png"), plot.DefaultWidth, plot.DefaultHeight); err == nil {
		t.Error("saving into a missing directory succeeded")
	}
	if _, err := plot.ClassesPlot(runview.ClassData{Run: "r", Generations: []runview.GenerationClasses{{Generation: 0}}}, 5); err == nil {
		t.Error("ClassesPlot of a missing generation succeeded")
	}
}

// checkImage fails unless path is a PNG that decodes or an SVG that parses.
func checkImage(t *testing.T, path string) {
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
		var root string
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
	}
}

// setup opens a lineage database in a temporary directory and writes the
// fixture runs into it.
func setup(t *testing.T) (*storage.DB, context.Context) {
	t.Helper()
	return plottest.Open(t), context.Background()
}
