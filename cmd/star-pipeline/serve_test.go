package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/internal/redistest"
	"github.com/star-pipeline/star-pipeline/plot/plottest"
	"github.com/star-pipeline/star-pipeline/runner"
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
		host, port, err := net.SplitHostPort(strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/"))
		if !ok || !found || err != nil || (host != "127.0.0.1" && !net.ParseIP(host).IsUnspecified()) {
			code, errText := stop()
			t.Fatalf("serve printed %q (exit %d); stderr:\n%s", line, code, errText)
		}
		return "http://127.0.0.1:" + port, stop
	case <-time.After(60 * time.Second):
		t.Fatalf("serve printed no address in 60s; stderr:\n%s", stderr.String())
	}
	return "", stop
}

// serveFetch does one request and returns the status code and body.
func serveFetch(t *testing.T, method, url string) (int, string) {
	t.Helper()
	return serveDo(t, method, url, nil)
}

// serveDo does one request with headers ("Host" sets the Host) and
// returns the status code and body.
func serveDo(t *testing.T, method, url string, headers map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
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
		{"GET", "/api/", 200, `"/api/runs/{id}"`},
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
	// Ctrl-C is how a dashboard is stopped: a clean shutdown exits 0,
	// quietly.
	if code, stderr := stop(); code != exitOK || strings.TrimSpace(stderr) != "" {
		t.Errorf("serve after SIGINT: exit %d, want %d and no error; stderr:\n%s", code, exitOK, stderr)
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
	// Ctrl-C is how a dashboard is stopped: a clean shutdown exits 0,
	// quietly.
	if code, stderr := stop(); code != exitOK || strings.TrimSpace(stderr) != "" {
		t.Errorf("serve after SIGINT: exit %d, want %d and no error; stderr:\n%s", code, exitOK, stderr)
	}
}

// TestServeHosts checks the Host header against DNS rebinding: a name of
// another site is refused (421) even for a run action, the bound address
// and the loopback names are served, --allowed-hosts (or
// STAR_ALLOWED_HOSTS) adds names, and binding to every interface does not
// by itself accept any Host.
func TestServeHosts(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dbPath := fixtureDB(t)
	evil := map[string]string{"Host": "rebind.evil.example", "Origin": "http://rebind.evil.example",
		"Sec-Fetch-Site": "same-origin"}
	url, stop := startServe(t, "--db", dbPath, "--allow-actions", "--allowed-hosts", "dash.internal")
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	for _, c := range []struct {
		method, path string
		headers      map[string]string
		code         int
		want         string
	}{
		{"GET", "/api/runs", map[string]string{"Host": "rebind.evil.example:" + port}, 421, "not served here"},
		{"POST", "/api/runs/r-demo/cancel", evil, 421, "--allowed-hosts"},
		{"POST", "/runs/r-demo/cancel", evil, 421, ""},
		{"GET", "/api/runs/r-demo", nil, 200, `"status": "running"`},
		{"GET", "/api/runs", map[string]string{"Host": "localhost:" + port}, 200, "r-demo"},
		{"GET", "/api/runs", map[string]string{"Host": "[::1]:" + port}, 200, "r-demo"},
		{"GET", "/api/runs", map[string]string{"Host": "localhost:1"}, 421, ""},
		{"GET", "/api/runs", map[string]string{"Host": "dash.internal"}, 200, "r-demo"},
		{"GET", "/api/runs", map[string]string{"Host": "DASH.internal:" + port}, 200, "r-demo"},
	} {
		code, body := serveDo(t, c.method, url+c.path, c.headers)
		if code != c.code || !strings.Contains(body, c.want) {
			t.Errorf("%s %s %v: %d, want %d with %q\n%.300s", c.method, c.path, c.headers, code, c.code, c.want, body)
		}
	}
	stop()

	// Every interface: loopback names only, until the names are given.
	url, stop = startServe(t, "--db", dbPath, "--addr", "0.0.0.0:0")
	_, port, _ = net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	for host, code := range map[string]int{"127.0.0.1:" + port: 200, "localhost:" + port: 200, "10.1.2.3:" + port: 421,
		"dash.internal:" + port: 421} {
		if got, body := serveDo(t, "GET", url+"/api/runs", map[string]string{"Host": host}); got != code {
			t.Errorf("bound to 0.0.0.0: Host %s: %d, want %d\n%.300s", host, got, code, body)
		}
	}
	if _, stderr := stop(); !strings.Contains(stderr, "--allowed-hosts") {
		t.Errorf("serve on every interface did not say how to allow hosts; stderr:\n%s", stderr)
	}
	cmd := command(t, t.TempDir(), []string{"STAR_ALLOWED_HOSTS=dash.internal, 10.1.2.3"}, "serve", "--db", dbPath,
		"--addr", "0.0.0.0:0")
	url, stop = startServeCmd(t, cmd)
	_, port, _ = net.SplitHostPort(strings.TrimPrefix(url, "http://"))
	for host, code := range map[string]int{"10.1.2.3:" + port: 200, "dash.internal": 200, "evil.example:" + port: 421} {
		if got, _ := serveDo(t, "GET", url+"/api/runs", map[string]string{"Host": host}); got != code {
			t.Errorf("STAR_ALLOWED_HOSTS: Host %s: %d, want %d", host, got, code)
		}
	}
	stop()
	cmd = command(t, t.TempDir(), nil, "serve", "--db", dbPath, "--addr", "0.0.0.0:0", "--allowed-hosts", "*")
	url, stop = startServeCmd(t, cmd)
	if got, _ := serveDo(t, "GET", url+"/api/runs", map[string]string{"Host": "anything.example"}); got != 200 {
		t.Errorf("--allowed-hosts '*': %d, want 200", got)
	}
	stop()

	for _, bad := range []string{"http://dash.internal", "a/b", "host:port"} {
		_, stderr, code := runCLI(t, t.TempDir(), nil, "serve", "--db", dbPath, "--addr", "127.0.0.1:0", "--allowed-hosts", bad)
		if code != 2 || !strings.Contains(stderr, "allowed host") {
			t.Errorf("--allowed-hosts %q: exit %d, want 2; stderr:\n%s", bad, code, stderr)
		}
	}
}

// TestServeMonitorGuarded checks the queue monitor with a real Redis: it
// refuses changes from other sites like the run pages do, changes nothing
// without --allow-actions, and logs every change it makes.
func TestServeMonitorGuarded(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the binary")
	}
	srv := redistest.Start(t)
	dbPath := fixtureDB(t)
	pause := "/monitoring/api/queues/star-train:pause"
	archive := "/monitoring/api/queues/star-train/pending_tasks:archive_all"
	crossSite := map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}

	b, err := runner.Open(context.Background(), runner.Options{Addr: srv.Socket})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.EnqueueOnce(context.Background(), runner.Job{Kind: "star:test", ID: "test-1", Queue: "star-train"}); err != nil {
		t.Fatal(err)
	}
	queue := func() (paused bool, pending, archived int) {
		t.Helper()
		stats, err := b.QueueStats(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, info := range stats {
			if info.Queue == "star-train" {
				return info.Paused, info.Pending, info.Archived
			}
		}
		t.Fatal("no queue star-train")
		return
	}

	url, stop := startServe(t, "--db", dbPath, "--redis", srv.Socket, "--allow-actions", "--verbose")
	for _, c := range []struct {
		method, path string
		headers      map[string]string
	}{
		{"POST", pause, crossSite},
		{"POST", archive, crossSite},
		{"POST", "/runs/r-demo/pause", crossSite},
		{"POST", pause, map[string]string{"Origin": "http://evil.example"}},
		{"POST", archive, map[string]string{"Sec-Fetch-Site": "same-site"}},
	} {
		if code, body := serveDo(t, c.method, url+c.path, c.headers); code != 403 {
			t.Errorf("%s %s %v: %d, want 403\n%.300s", c.method, c.path, c.headers, code, body)
		}
	}
	if paused, pending, archived := queue(); paused || pending != 1 || archived != 0 {
		t.Errorf("after cross-site requests the queue is paused %t with %d pending and %d archived tasks; want untouched",
			paused, pending, archived)
	}
	sameOrigin := map[string]string{"Origin": url, "Sec-Fetch-Site": "same-origin"}
	if code, body := serveDo(t, "POST", url+pause, sameOrigin); code != 204 {
		t.Errorf("same-origin pause: %d\n%.300s", code, body)
	}
	if code, body := serveDo(t, "POST", url+archive, nil); code != 200 || !strings.Contains(body, `"archived":1`) {
		t.Errorf("archive_all without Origin (curl): %d\n%.300s", code, body)
	}
	if paused, pending, archived := queue(); !paused || pending != 0 || archived != 1 {
		t.Errorf("after the changes the queue is paused %t with %d pending and %d archived tasks", paused, pending, archived)
	}
	_, stderr := stop()
	if strings.Count(stderr, "queue monitor action") != 2 || !strings.Contains(stderr, "path="+archive) {
		t.Errorf("the changes are not logged; stderr:\n%s", stderr)
	}

	url, _ = startServe(t, "--db", dbPath, "--redis", srv.Socket)
	sameOrigin = map[string]string{"Origin": url, "Sec-Fetch-Site": "same-origin"}
	if _, err := b.EnqueueOnce(context.Background(), runner.Job{Kind: "star:test", ID: "test-2", Queue: "star-train"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/monitoring/", 200},
		{"POST", "/monitoring/api/queues/star-train:resume", 403},
		{"DELETE", "/monitoring/api/queues/star-train", 403},
		{"POST", archive, 403},
		{"POST", "/monitoring/nothing", 403},
	} {
		if code, body := serveDo(t, c.method, url+c.path, sameOrigin); code != c.code {
			t.Errorf("without --allow-actions: %s %s: %d, want %d\n%.300s", c.method, c.path, code, c.code, body)
		}
	}
	if paused, pending, _ := queue(); !paused || pending != 1 {
		t.Errorf("without --allow-actions the queue changed: paused %t, %d pending", paused, pending)
	}
}
