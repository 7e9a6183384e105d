package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gomlx/compute"
)

// autoBackend is the --backend value that picks the GPU when it can.
const autoBackend = "auto"

// resolveBackendSpec turns --backend auto (or an empty spec with
// $GOMLX_BACKEND=auto) into a concrete backend spec; any other spec is
// returned as it is. auto gives "xla:<plugin>" for the newest JAX CUDA PJRT
// plugin found under a Python site-packages directory (see
// pluginSearchDirs) when this binary has the xla backend (built with
// -tags xla), else "go". Every choice and what is missing for the GPU is
// said on w.
func resolveBackendSpec(spec string, w io.Writer) string {
	if spec == "" && os.Getenv(compute.ConfigEnvVar) == autoBackend {
		spec = autoBackend
	}
	if spec != autoBackend {
		return spec
	}
	if !slices.Contains(compute.List(), "xla") {
		fmt.Fprintln(w, "backend auto: this binary has no xla backend (build with -tags xla for the GPU); using go")
		return "go"
	}
	home, _ := os.UserHomeDir()
	dirs := pluginSearchDirs("", home, os.Getenv("VIRTUAL_ENV"))
	plugin, site := findXLAPlugin(dirs)
	if plugin == "" {
		fmt.Fprintf(w, "backend auto: no JAX CUDA plugin (jax_plugins/xla_cuda*/xla_cuda_plugin.so) under %s; using go\n",
			strings.Join(dirs, ", "))
		return "go"
	}
	if os.Getenv("GOMLX_NO_AUTO_INSTALL") == "" {
		os.Setenv("GOMLX_NO_AUTO_INSTALL", "1")
	}
	fmt.Fprintf(w, "backend auto: xla with %s\n", plugin)
	if missing := missingLibDirs(nvidiaLibDirs(site), os.Getenv("LD_LIBRARY_PATH")); len(missing) > 0 {
		// The loader reads LD_LIBRARY_PATH at process start only.
		fmt.Fprintf(w, "backend auto: the CUDA libraries of that Python are not on LD_LIBRARY_PATH; if the plugin fails to load, run first:\n"+
			"  export LD_LIBRARY_PATH=%s${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}\n", strings.Join(missing, ":"))
	}
	return "xla:" + plugin
}

// pluginSearchDirs lists the site-packages directories searched for the
// plugin, in order of preference, each below root ("" for the real file
// system): $VIRTUAL_ENV, /opt/*/.venv, ~/.local, /usr/local, then
// /usr/lib/python3/dist-packages. Only existing directories are listed.
func pluginSearchDirs(root, home, venv string) []string {
	var patterns []string
	if venv != "" {
		patterns = append(patterns, filepath.Join(venv, "lib", "python3*", "site-packages"))
	}
	patterns = append(patterns, "/opt/*/.venv/lib/python3*/site-packages")
	if home != "" {
		patterns = append(patterns, filepath.Join(home, ".local", "lib", "python3*", "site-packages"))
	}
	patterns = append(patterns,
		"/usr/local/lib/python3*/site-packages",
		"/usr/local/lib/python3*/dist-packages",
		"/usr/lib/python3/dist-packages")
	var dirs []string
	for _, p := range patterns {
		matches, _ := filepath.Glob(filepath.Join(root, p))
		slices.SortFunc(matches, func(a, b string) int { return -compareVersions(a, b) }) // newest Python first
		for _, m := range matches {
			if fi, err := os.Stat(m); err == nil && fi.IsDir() && !slices.Contains(dirs, m) {
				dirs = append(dirs, m)
			}
		}
	}
	return dirs
}

// findXLAPlugin returns the first directory of dirs holding a JAX CUDA
// plugin, with the plugin of the newest CUDA major there
// (jax_plugins/xla_cuda13 before xla_cuda12).
func findXLAPlugin(dirs []string) (plugin, site string) {
	for _, d := range dirs {
		matches, _ := filepath.Glob(filepath.Join(d, "jax_plugins", "xla_cuda*", "xla_cuda_plugin.so"))
		if len(matches) == 0 {
			continue
		}
		slices.SortFunc(matches, func(a, b string) int {
			return cudaMajor(filepath.Base(filepath.Dir(b))) - cudaMajor(filepath.Base(filepath.Dir(a)))
		})
		return matches[0], d
	}
	return "", ""
}

// cudaMajor reads 13 from "xla_cuda13" (0 when there is no number).
func cudaMajor(dir string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(dir, "xla_cuda"))
	if err != nil {
		return 0
	}
	return n
}

// compareVersions orders paths holding "python3.N" by N.
func compareVersions(a, b string) int {
	return pythonMinor(a) - pythonMinor(b)
}

func pythonMinor(path string) int {
	i := strings.Index(path, "python3.")
	if i < 0 {
		return -1
	}
	s := path[i+len("python3."):]
	end := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if end >= 0 {
		s = s[:end]
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return -1
	}
	return n
}

// nvidiaLibDirs lists site/nvidia/*/lib: the CUDA libraries the pip
// packages of the plugin install.
func nvidiaLibDirs(site string) []string {
	dirs, _ := filepath.Glob(filepath.Join(site, "nvidia", "*", "lib"))
	return dirs
}

// missingLibDirs returns the dirs that are not on the colon-separated
// search path.
func missingLibDirs(dirs []string, searchPath string) []string {
	on := strings.Split(searchPath, ":")
	var missing []string
	for _, d := range dirs {
		if !slices.Contains(on, d) && !slices.Contains(on, d+"/") {
			missing = append(missing, d)
		}
	}
	return missing
}
