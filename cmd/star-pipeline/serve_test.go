package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/internal/redistest"
	"github.com/star-pipeline/star-pipeline/plot/plottest"
)

// startServe starts `serve` with args and returns its base URL and the
// running command, and a function that interrupts it and returns its exit
// code.
func startServe(t *testing.T, args ...string) (string, func() (int, string)) {
	t.Helper()
	return startServeCmd(t, command(t, t.TempDir(), nil, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...)...))
}

// startServeCmd is startServe with a prepared command.
func startServeCmd(t *testing.T, cmd *exec.Cmd) (string, func() (int, string)) {
	t.Helper()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop := func() (int, string) {
		if stopped {
			return -1, stderr.String()
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGINT)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return ee.ExitCode(), stderr.String()
			}
			return 0, stderr.String()
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("serve did not stop on SIGINT; stderr:\n%s", stderr.String())
		}
		return -1, ""
	}
	t.Cleanup(func() { stop() })
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case line, ok := <-lines:
		url, found := strings.CutPrefix(line, "dashboard at ")
		if !ok || !found || !strings.HasPrefix(url, "http://127.0.0.1:") {
			code, errText := stop()
			t.Fatalf("serve printed %q (exit %d); stderr:\n%s", line, code, errText)
		}
		return strings.TrimSuffix(url, "/"), stop
	case <-time.After(60 * time.Second):
		t.Fatalf("serve printed no address in 60s; stderr:\n%s", stderr.String())
	}
	return "", stop
}

// serveFetch does one request and returns the status code and body.
func serveFetch(t *testing.T, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 20 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func TestServeCLI(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dbPath := fixtureDB(t)
	url, stop := startServe(t, "--db", dbPath, "--refresh", "0")
	for _, c := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/", 200, plottest.Demo},
		{"GET", "/runs/" + plottest.Demo, 200, `data-front="1"`},
		{"GET", "/candidates/r-demo/g001/c0000", 200, `class="slot"`},
		{"GET", "/api/runs", 200, `"id": "r-demo"`},
		{"GET", "/metrics", 200, `star_candidates_evaluated{run="r-demo"} 19`},
		{"GET", "/runs/nope", 404, "no run"},
		{"GET", "/runs/r-demo?x=nope", 400, "bad x"},
		{"POST", "/runs/r-demo/pause", 403, "--allow-actions"},
		{"GET", "/monitoring/", 404, ""},
	} {
		code, body := serveFetch(t, c.method, url+c.path)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d, want %d with %q\n%.300s", c.method, c.path, code, c.code, c.want, body)
		}
	}
	if code, stderr := stop(); code != exitInterrupted {
		t.Errorf("serve after SIGINT: exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr)
	}

	// Bad input exits 2, a missing database 1.
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"serve", "--db", dbPath, "--addr", "nonsense"}, 2, "--addr"},
		{[]string{"serve", "--db", dbPath, "extra"}, 2, "no arguments"},
		{[]string{"serve", "--db", dbPath, "--refresh", "-1s"}, 2, "--refresh"},
		{[]string{"serve", "--db", dir + "/none.db"}, 1, "no database"},
		{[]string{"serve", "--db", dbPath, "--redis", "127.0.0.1:1"}, 1, "redis"},
	} {
		_, stderr, code := runCLI(t, dir, nil, c.args...)
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, want %d with %q; stderr:\n%s", c.args, code, c.code, c.want, stderr)
		}
	}
}

// TestServeRedis serves with a real Redis: queue metrics, the asynq
// monitor, and run actions.
func TestServeRedis(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	srv := redistest.Start(t)
	dbPath := fixtureDB(t)
	url, stop := startServe(t, "--db", dbPath, "--redis", srv.Socket, "--allow-actions")
	for _, c := range []struct {
		method, path string
		code         int
		want         string
	}{
		{"GET", "/metrics", 200, "star_queue_up 1"},
		{"GET", "/monitoring/", 200, "<html"},
		{"GET", "/", 200, `href="/monitoring/"`},
		{"GET", "/runs/r-demo", 200, `action="/runs/r-demo/pause"`},
		{"POST", "/api/runs/r-demo/pause", 200, `"status": "paused"`},
		{"POST", "/runs/r-demo/resume", 303, ""},
		{"GET", "/api/runs/r-demo", 200, `"status": "pending"`},
		{"POST", "/api/runs/r-ppl/cancel", 409, "cannot cancel"},
	} {
		code, body := serveFetch(t, c.method, url+c.path)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s %s: %d, want %d with %q\n%.300s", c.method, c.path, code, c.code, c.want, body)
		}
	}
	if code, stderr := stop(); code != exitInterrupted {
		t.Errorf("serve after SIGINT: exit %d, want %d; stderr:\n%s", code, exitInterrupted, stderr)
	}
}
