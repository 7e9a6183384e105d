package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRedisCredentialsHidden gives every command that connects to the
// queue an address whose password, S3cret, is malformed or unreachable:
// stderr never shows it, and a malformed address is bad input (exit 2)
// while an unreachable one is a failure (exit 1). Nothing is written.
func TestRedisCredentialsHidden(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := workdir(t, staticConfig)
	addrs := []struct {
		addr string
		code int
	}{
		{"redis://:S3cret%zz@127.0.0.1:1/0", 2},
		{"redis:/:S3cret@127.0.0.1:1", 2},
		{"REDIS://:S3cret@127.0.0.1:1/0", 1},
		{"redis://:S3/cret@127.0.0.1:1/0", 2},
		{"redis://:12/S3cret@127.0.0.1:1/0", 2},
		{"redis://:S3cret@127.0.0.1:1/x", 2},
	}
	commands := [][]string{
		{"submit", "--config", "search.yaml", "--static-eval"},
		{"worker", "--static-eval"},
		{"coordinator"},
		{"serve", "--db", fixtureDB(t)},
	}
	for _, a := range addrs {
		for _, args := range commands {
			args := append(append([]string(nil), args...), "--redis", a.addr, "--verbose")
			_, stderr, code := runCLI(t, dir, nil, args...)
			if code != a.code {
				t.Errorf("%s: exit %d, want %d; stderr:\n%s", strings.Join(args, " "), code, a.code, stderr)
			}
			for _, secret := range []string{"S3cret", "S3/", "/cret", "%zz"} {
				if strings.Contains(stderr, secret) {
					t.Errorf("%s: stderr shows %q:\n%s", strings.Join(args, " "), secret, stderr)
				}
			}
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "star.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a database was written although the queue was never reached: %v", err)
	}
}

// TestQueueFlagsBadInput checks that bad values of the queue commands'
// flags exit 2 with a message naming the flag, before anything connects
// or is written.
func TestQueueFlagsBadInput(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	wantUsageErrors(t, []usageCase{
		{[]string{"submit", "--static-eval"}, "--config"},
		{[]string{"submit", "--config", "search.yaml", "--static-eval", "--redis-db", "-1"}, "--redis-db"},
		{[]string{"submit", "--config", "search.yaml", "--static-eval", "--redis", "127.0.0.1:1", "--redis-db", "-1"}, "--redis-db"},
		{[]string{"submit", "--config", "search.yaml", "--static-eval", "--workers", "-5"}, "--workers"},
		{[]string{"resume", "r1", "--workers", "-5"}, "--workers"},
		{[]string{"resume", "r1", "--redis-db", "-2"}, "--redis-db"},
		{[]string{"worker", "--redis", "127.0.0.1:1", "--poll", "-1s"}, "--poll"},
		{[]string{"worker", "--redis", "127.0.0.1:1", "--redis-db", "-1"}, "--redis-db"},
		{[]string{"coordinator", "--redis", "127.0.0.1:1", "--poll", "-1s"}, "--poll"},
		{[]string{"serve", "--redis", "127.0.0.1:1", "--redis-db", "-1"}, "--redis-db"},
	})
}

// usageCase is a command line that must exit 2 with want in its stderr.
type usageCase struct {
	args []string
	want string
}

// wantUsageErrors runs each case in a directory holding the static run
// config and checks that it exits 2 naming what is wrong, and that none of
// them wrote a database.
func wantUsageErrors(t *testing.T, cases []usageCase) {
	t.Helper()
	dir := workdir(t, staticConfig)
	for _, c := range cases {
		_, stderr, code := runCLI(t, dir, nil, c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%s: exit %d, want 2 with %q; stderr:\n%s", strings.Join(c.args, " "), code, c.want, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "star.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("bad flags wrote a database: %v", err)
	}
}
