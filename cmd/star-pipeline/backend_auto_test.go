package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomlx/compute"
)

// touch creates the file at root/rel with its directories.
func touch(t *testing.T, root, rel string) string {
	t.Helper()
	p := filepath.Join(root, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestFindXLAPluginSearchOrder(t *testing.T) {
	root := t.TempDir()
	const torch = "opt/torch/.venv/lib/python3.12/site-packages"
	cuda12 := touch(t, root, torch+"/jax_plugins/xla_cuda12/xla_cuda_plugin.so")
	cuda13 := touch(t, root, torch+"/jax_plugins/xla_cuda13/xla_cuda_plugin.so")
	touch(t, root, torch+"/nvidia/cublas/lib/libcublas.so.13")
	touch(t, root, torch+"/nvidia/cudnn/lib/libcudnn.so.9")
	system := touch(t, root, "usr/lib/python3/dist-packages/jax_plugins/xla_cuda12/xla_cuda_plugin.so")
	venvPlugin := touch(t, root, "venv/lib/python3.11/site-packages/jax_plugins/xla_cuda12/xla_cuda_plugin.so")
	if err := os.MkdirAll(filepath.Join(root, "home/u/.local/lib/python3.10/site-packages"), 0o755); err != nil {
		t.Fatal(err)
	}
	// An older Python in the same venv, without a plugin.
	if err := os.MkdirAll(filepath.Join(root, "opt/torch/.venv/lib/python3.9/site-packages"), 0o755); err != nil {
		t.Fatal(err)
	}

	dirs := pluginSearchDirs(root, "/home/u", "")
	want := []string{
		filepath.Join(root, torch),
		filepath.Join(root, "opt/torch/.venv/lib/python3.9/site-packages"),
		filepath.Join(root, "home/u/.local/lib/python3.10/site-packages"),
		filepath.Join(root, "usr/lib/python3/dist-packages"),
	}
	if !slices.Equal(dirs, want) {
		t.Fatalf("search dirs:\n got %q\nwant %q", dirs, want)
	}
	plugin, site := findXLAPlugin(dirs)
	if plugin != cuda13 || site != filepath.Join(root, torch) {
		t.Fatalf("plugin %q in %q, want %q (CUDA 13 before 12, %q)", plugin, site, cuda13, cuda12)
	}
	libs := nvidiaLibDirs(site)
	if len(libs) != 2 {
		t.Fatalf("nvidia lib dirs %q, want cublas and cudnn", libs)
	}
	if m := missingLibDirs(libs, libs[0]+":/usr/lib"); !slices.Equal(m, libs[1:]) {
		t.Fatalf("missing %q, want %q", m, libs[1:])
	}
	if m := missingLibDirs(libs, strings.Join(libs, ":")); len(m) != 0 {
		t.Fatalf("missing %q, want none", m)
	}

	// $VIRTUAL_ENV comes first.
	dirs = pluginSearchDirs(root, "/home/u", "/venv")
	if plugin, _ := findXLAPlugin(dirs); plugin != venvPlugin {
		t.Fatalf("with VIRTUAL_ENV: plugin %q, want %q", plugin, venvPlugin)
	}
	// Without the /opt venv the system dist-packages is the fallback.
	if plugin, _ := findXLAPlugin(dirs[len(dirs)-1:]); plugin != system {
		t.Fatalf("system plugin %q, want %q", plugin, system)
	}
	if plugin, site := findXLAPlugin(nil); plugin != "" || site != "" {
		t.Fatalf("no dirs: got %q %q", plugin, site)
	}
}

func TestResolveBackendSpec(t *testing.T) {
	t.Setenv(compute.ConfigEnvVar, "")
	var w bytes.Buffer
	for _, spec := range []string{"", "go", "go:parallelism=2", "xla:/x/plugin.so,tf32=false"} {
		if got := resolveBackendSpec(spec, &w); got != spec {
			t.Errorf("resolveBackendSpec(%q) = %q, want it unchanged", spec, got)
		}
	}
	if w.Len() != 0 {
		t.Errorf("unexpected notes: %q", w.String())
	}
	got := resolveBackendSpec("auto", &w)
	hasXLA := slices.Contains(compute.List(), "xla")
	switch {
	case !hasXLA && got != "go":
		t.Errorf("auto without the xla backend = %q, want go", got)
	case !hasXLA && !strings.Contains(w.String(), "-tags xla"):
		t.Errorf("auto without the xla backend should say how to get it, said %q", w.String())
	case hasXLA && got != "go" && !strings.HasPrefix(got, "xla:"):
		t.Errorf("auto = %q, want go or xla:<plugin>", got)
	}
	t.Setenv(compute.ConfigEnvVar, "auto")
	if got := resolveBackendSpec("", &w); got == "" || got == "auto" {
		t.Errorf("GOMLX_BACKEND=auto not resolved: %q", got)
	}
}
