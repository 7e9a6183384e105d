package runner

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestQueueStaysInRunner keeps asynq behind this package: the rest of the
// project enqueues Jobs and handles Deliveries, so another queue could
// drive the stages by changing runner alone.
func TestQueueStaysInRunner(t *testing.T) {
	t.Parallel()
	root := ".."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "runner", "third_party", "node_modules", "data":
				if path != root {
					return filepath.SkipDir
				}
			}
			if strings.HasPrefix(d.Name(), ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.HasPrefix(p, "github.com/hibiken/") {
				t.Errorf("%s imports %s; only runner may", path, p)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestMux routes jobs by kind and refuses unknown kinds with ErrNoHandler.
func TestMux(t *testing.T) {
	t.Parallel()
	m := NewMux()
	var got []string
	m.Handle("a", func(_ context.Context, d *Delivery) error { got = append(got, "a:"+string(d.Payload)); return nil })
	m.Handle("b", func(context.Context, *Delivery) error { return SkipRetry })
	h := m.Handler()
	ctx := context.Background()
	if err := h(ctx, &Delivery{Kind: "a", Payload: []byte("x")}); err != nil || len(got) != 1 || got[0] != "a:x" {
		t.Errorf("kind a: %v, %v", err, got)
	}
	if err := h(ctx, &Delivery{Kind: "b"}); !errors.Is(err, SkipRetry) {
		t.Errorf("kind b: %v", err)
	}
	if err := h(ctx, &Delivery{Kind: "c"}); !errors.Is(err, ErrNoHandler) || !strings.Contains(err.Error(), `"c"`) {
		t.Errorf("unknown kind: %v", err)
	}
	if d := (&Delivery{Retried: 2, MaxRetry: 2}); !d.LastAttempt() {
		t.Error("retried 2 of 2 is not the last attempt")
	}
	if err := (&Delivery{}).WriteResult([]byte("r")); err != nil {
		t.Errorf("WriteResult without a result writer: %v", err)
	}
}
