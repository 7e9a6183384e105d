package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/star-pipeline/star-pipeline/genome"
)

// genomeCLI runs the built binary with args and an environment free of
// STAR_ variables plus env; it returns stdout, stderr and the exit code.
func genomeCLI(t *testing.T, bin string, env []string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "STAR_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

func TestGenomeCLI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "star-pipeline")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("building the CLI: %v\n%s", err, out)
	}

	tests := []struct {
		name   string
		env    []string
		args   []string
		code   int
		stdout []string // substrings of stdout
		stderr []string // substrings of stderr
	}{
		{name: "show preset", args: []string{"genome", "show", "--preset", "striped", "--depth", "8"},
			stdout: []string{"Rec-1", "recurrence", "SA-1", "GMemless",
				"genome 51111-92121-53131-94141-55151-96161-17171-98181  hash "}},
		{name: "show preset from env", env: []string{"STAR_PRESET=transformer++", "STAR_DEPTH=4"},
			args: []string{"genome", "show"}, stdout: []string{"genome 11111-92121-13131-94141"}},
		{name: "show repairs sharing", args: []string{"genome", "show", "11211-91211-11211-91211"},
			stdout: []string{"weights of 0", "weights of 1", "genome 11211-92221-11231-92241"},
			stderr: []string{"repaired to 11211-92221-11231-92241"}},
		{name: "show parse error", args: []string{"genome", "show", "11111-9x111"}, code: 2,
			stderr: []string{"slot 2 gene feat_group"}},
		{name: "show range error", args: []string{"genome", "show", "11111-19.1.1.1.1"}, code: 2,
			stderr: []string{"slot 2 gene class"}},
		{name: "show bad preset depth", args: []string{"genome", "show", "--preset", "striped", "--depth", "7"}, code: 2,
			stderr: []string{"even depth"}},
		{name: "show preset without depth", args: []string{"genome", "show", "--preset", "striped"}, code: 2},
		{name: "show both inputs", args: []string{"genome", "show", "--preset", "striped", "--depth", "8", "11111"}, code: 2},
		{name: "show nothing", args: []string{"genome", "show"}, code: 2},
		{name: "show unknown flag", args: []string{"genome", "show", "--colour"}, code: 2},
		{name: "cost table", args: []string{"genome", "cost", "11112-12212-12221", "--width", "16", "--head-dim", "4",
			"--vocab", "10", "--context", "16"},
			stdout: []string{"params 2528", "cache_bytes 2560 (L=16, bf16)", "genome 11112-12212-12221"}},
		{name: "cost bad dtype", args: []string{"genome", "cost", "--preset", "striped", "--depth", "8", "--dtype", "int8"},
			code: 2, stderr: []string{"int8"}},
		{name: "cost bad width", args: []string{"genome", "cost", "11111", "--width", "60"}, code: 2,
			stderr: []string{"head dim"}},
		{name: "cost heads", args: []string{"genome", "cost", "11111-31111", "--width", "32", "--head-dim", "16"}, code: 2,
			stderr: []string{"slot 2 gene class"}},
		{name: "mutate", args: []string{"genome", "mutate", "51111-92121-53131-94141", "--seed", "7", "--rate", "1"}},
		{name: "mutate without seed", args: []string{"genome", "mutate", "51111-92121"}, code: 2, stderr: []string{"--seed"}},
		{name: "mutate bad rate", args: []string{"genome", "mutate", "51111-92121", "--seed", "1", "--rate", "2"}, code: 2},
		{name: "crossover depths", args: []string{"genome", "crossover", "11111", "11111-92121", "--seed", "1"}, code: 2,
			stderr: []string{"depths 1 and 2"}},
		{name: "repair", args: []string{"genome", "repair", "0.1.9.1.9-25.1.1.1.1"},
			stdout: []string{"11111-18.2.1.2.1\n"}},
		{name: "repair in a space", args: []string{"genome", "repair", "--classes", "1,Rec-1,9", "21111-71111"},
			stdout: []string{"11111-52121\n"}},
		{name: "repair bad classes", args: []string{"genome", "repair", "--classes", "1,42", "11111"}, code: 2},
		{name: "random without depth", args: []string{"genome", "random", "--seed", "1"}, code: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr, code := genomeCLI(t, bin, tt.env, tt.args...)
			if code != tt.code {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.code, stdout, stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tt.code != 0 && stdout != "" {
				t.Errorf("failed command wrote to stdout: %s", stdout)
			}
		})
	}

	t.Run("cost json 1B", func(t *testing.T) {
		t.Parallel()
		stdout, stderr, code := genomeCLI(t, bin, nil, "genome", "cost", "--preset", "transformer++", "--depth", "48",
			"--width", "2048", "--context", "4096", "--dtype", "bf16", "--vocab", "256", "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		var out struct {
			Genome     genome.Genome `json:"genome"`
			Params     int64         `json:"params"`
			CacheBytes int64         `json:"cache_bytes"`
			PerSlot    []struct{}    `json:"per_slot"`
			FLOPs      struct {
				Forward int64 `json:"forward"`
			} `json:"flops"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil {
			t.Fatalf("decoding %s: %v", stdout, err)
		}
		if out.CacheBytes != 805_306_368 || out.Params != 1_611_237_376 || len(out.Genome) != 48 ||
			len(out.PerSlot) != 48 || out.FLOPs.Forward <= 0 {
			t.Errorf("cost = %+v", out)
		}
	})

	t.Run("show json", func(t *testing.T) {
		t.Parallel()
		stdout, _, code := genomeCLI(t, bin, nil, "genome", "show", "--json", "11111-91111")
		var out struct {
			Genome   string `json:"genome"`
			Hash     string `json:"hash"`
			Repaired bool   `json:"repaired"`
			Slots    []struct {
				Name   string `json:"name"`
				Family string `json:"family"`
			} `json:"slots"`
		}
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || code != 0 {
			t.Fatalf("exit %d, decoding %s: %v", code, stdout, err)
		}
		if out.Genome != "11111-92121" || !out.Repaired || len(out.Slots) != 2 || out.Slots[1].Family != "memoryless" ||
			out.Hash != genome.Hash(genome.MustParse("11111-92121")) {
			t.Errorf("show = %+v", out)
		}
	})

	t.Run("seeded commands are deterministic and valid", func(t *testing.T) {
		t.Parallel()
		space := genome.Space{Depth: 8, Classes: []int{1, 5, 9}}
		runs := [][]string{
			{"genome", "random", "--depth", "8", "--seed", "3", "--classes", "1,5,9"},
			{"genome", "mutate", "51111-92121-53131-94141-55151-96161-17171-98181", "--seed", "5", "--rate", "0.3",
				"--classes", "1,5,9"},
			{"genome", "crossover", "11111-92121-13131-94141-15151-96161-17171-98181",
				"51111-92121-53131-94141-55151-96161-17171-98181", "--seed", "9", "--points", "3"},
		}
		for _, args := range runs {
			first, stderr, code := genomeCLI(t, bin, nil, args...)
			if code != 0 {
				t.Fatalf("%v: exit %d: %s", args, code, stderr)
			}
			again, _, _ := genomeCLI(t, bin, nil, args...)
			if first != again {
				t.Errorf("%v: %q then %q", args, first, again)
			}
			for _, line := range strings.Fields(first) {
				g, err := genome.Parse(line)
				if err != nil {
					t.Fatalf("%v printed %q: %v", args, line, err)
				}
				if err := genome.Validate(g, space); err != nil {
					t.Errorf("%v printed invalid %s: %v", args, g, err)
				}
			}
		}
	})
}
