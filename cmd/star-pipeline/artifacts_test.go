package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/star-pipeline/star-pipeline/config"
	"github.com/star-pipeline/star-pipeline/storage"
)

func TestResolveArtifacts(t *testing.T) {
	t.Parallel()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ artifacts, root, want string }{
		{"ck", "/shared", "/shared/ck"},
		{"./a/../ck", "/shared/", "/shared/ck"},
		{"ck", "", filepath.Join(wd, "ck")},
		{"ck", "rel", filepath.Join(wd, "rel", "ck")},
		{"/abs/ck", "/shared", "/abs/ck"},
		{"file:///abs/ck", "/shared", "file:///abs/ck"},
	} {
		cfg := config.Default()
		cfg.Artifacts = tc.artifacts
		if err := resolveArtifacts(&cfg, tc.root); err != nil {
			t.Errorf("artifacts %q, root %q: %v", tc.artifacts, tc.root, err)
			continue
		}
		if cfg.Artifacts != tc.want {
			t.Errorf("artifacts %q, root %q: got %q, want %q", tc.artifacts, tc.root, cfg.Artifacts, tc.want)
		}
	}
}

// TestSubmitStoresAbsoluteArtifacts checks that the stored run config names
// the artifact directory that submit resolved, so that workers with other
// working directories (other containers, other machines) find the same one.
func TestSubmitStoresAbsoluteArtifacts(t *testing.T) {
	t.Parallel()
	const cfg = "seed: 3\npopulation: 4\ngenerations: 0\nobjectives: [params, cache_bytes]\nsearch:\n  depth: 4\nartifacts: ck\n"
	for _, tc := range []struct {
		name string
		root string // under the work dir; "" leaves STAR_ARTIFACT_ROOT unset
	}{{"root", "shared"}, {"workdir", ""}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := workdir(t, cfg)
			var env []string
			want := filepath.Join(dir, "ck")
			if tc.root != "" {
				env = []string{"STAR_ARTIFACT_ROOT=" + filepath.Join(dir, tc.root)}
				want = filepath.Join(dir, tc.root, "ck")
			}
			_, stderr, code := runCLI(t, dir, env, "submit", "--config", "search.yaml", "--static-eval")
			if code != 0 {
				t.Fatalf("submit: exit %d\n%s", code, stderr)
			}
			id := runID(t, stderr)
			ctx := context.Background()
			db, err := storage.Open(ctx, filepath.Join(dir, "star.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			run, err := db.GetRun(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			stored, err := config.Parse([]byte(run.Config))
			if err != nil {
				t.Fatal(err)
			}
			if stored.Artifacts != want {
				t.Errorf("stored artifacts %q, want %q", stored.Artifacts, want)
			}
		})
	}
}
