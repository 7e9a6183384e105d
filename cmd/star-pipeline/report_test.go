package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"
)

// finalConfig is a static search with a final stage large enough to be
// interrupted: 8 evolved architectures and 2 baselines, 30 seeds each.
const finalConfig = staticConfig + `final:
  top_k: 8
  seeds: 30
  steps: 50
`

// reportJSON runs report --json and returns it without the run id, so
// reports of two runs compare.
func reportJSON(t *testing.T, dir, id string) string {
	t.Helper()
	out, stderr, code := runCLI(t, dir, nil, "report", id, "--json")
	if code != 0 {
		t.Fatalf("report: exit %d\n%s", code, stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report --json: %v\n%s", err, out)
	}
	return strings.ReplaceAll(out, id, "RUN")
}

func TestReportCLI(t *testing.T) {
	t.Parallel()
	dir := workdir(t, finalConfig)
	out, stderr, code := runCLI(t, dir, nil, "submit", "--config", "search.yaml", "--static-eval")
	if code != 0 {
		t.Fatalf("submit: exit %d\n%s", code, stderr)
	}
	id := runID(t, stderr)
	for _, want := range []string{"final stage", "transformer++", "striped", "STAR-1", "vs transformer++", "rule:"} {
		if !strings.Contains(out, want) {
			t.Errorf("submit's output lacks %q:\n%s", want, out)
		}
	}
	var rep struct {
		Complete bool `json:"complete"`
		Rows     []struct {
			Name  string `json:"name"`
			Seeds int    `json:"seeds"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(reportJSON(t, dir, id)), &rep); err != nil {
		t.Fatal(err)
	}
	if !rep.Complete || len(rep.Rows) < 3 || rep.Rows[0].Name != "transformer++" || rep.Rows[0].Seeds != 30 {
		t.Errorf("report --json: %+v", rep)
	}
	md, stderr, code := runCLI(t, dir, nil, "report", id, "--markdown")
	if code != 0 || !strings.HasPrefix(md, "| architecture | genome | params | cache_bytes |") || !strings.Contains(md, "\n| --- |") {
		t.Errorf("report --markdown: exit %d\n%s\n%s", code, md, stderr)
	}

	// Bad input: exit 2 with a message that says what to do.
	_, stderr, code = runCLI(t, dir, nil, "report", "r-missing")
	if code != 2 || !strings.Contains(stderr, "no run r-missing") {
		t.Errorf("unknown run: exit %d\n%s", code, stderr)
	}
	_, stderr, code = runCLI(t, dir, nil, "report")
	if code != 2 || !strings.Contains(stderr, "missing RUN_ID") {
		t.Errorf("no run id: exit %d\n%s", code, stderr)
	}
	_, _, code = runCLI(t, dir, nil, "report", id, "--json", "--markdown")
	if code != 2 {
		t.Errorf("--json with --markdown: exit %d", code)
	}
	plain := workdir(t, staticConfig)
	_, stderr, code = runCLI(t, plain, nil, "submit", "--config", "search.yaml", "--static-eval", "--generations", "1")
	if code != 0 {
		t.Fatalf("submit: exit %d\n%s", code, stderr)
	}
	_, stderr, code = runCLI(t, plain, nil, "report", runID(t, stderr))
	if code != 2 || !strings.Contains(stderr, "no final stage") {
		t.Errorf("run without a final stage: exit %d\n%s", code, stderr)
	}
}

// TestFinalStageKilled kills the coordinator with SIGKILL during the final
// stage, again and again, and resumes it: the report equals the
// uninterrupted run's.
func TestFinalStageKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test")
	}
	t.Parallel()
	ref := workdir(t, finalConfig)
	_, stderr, code := runCLI(t, ref, nil, "submit", "--config", "search.yaml", "--static-eval")
	if code != 0 {
		t.Fatalf("reference: exit %d\n%s", code, stderr)
	}
	want := reportJSON(t, ref, runID(t, stderr))

	dir := workdir(t, finalConfig)
	r := rand.New(rand.NewPCG(5, 6))
	args := []string{"submit", "--config", "search.yaml", "--static-eval"}
	var id string
	kills := 0
	for range 100 {
		cmd := command(t, dir, nil, args...)
		pipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Watch stderr for the run id and the start of the final stage.
		var mu sync.Mutex
		var errb bytes.Buffer
		inFinal := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(pipe)
			closed := false
			for sc.Scan() {
				mu.Lock()
				errb.WriteString(sc.Text() + "\n")
				mu.Unlock()
				if !closed && strings.HasPrefix(sc.Text(), "final stage") {
					close(inFinal)
					closed = true
				}
			}
			_, _ = io.Copy(io.Discard, pipe)
		}()
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		var ended error
		finished := false
		select {
		case <-inFinal:
		case ended = <-done:
			finished = true
		}
		var kill <-chan time.Time
		if !finished {
			select {
			case ended = <-done:
				finished = true
			case <-time.After(time.Duration(40+r.IntN(200)) * time.Millisecond):
				kill = closedTime()
			}
		}
		select {
		case <-kill:
			_ = cmd.Process.Kill()
			<-done
			kills++
		default:
			err := ended
			mu.Lock()
			text := errb.String()
			mu.Unlock()
			if err != nil {
				t.Fatalf("coordinator exited: %v\n%s", err, text)
			}
			if id == "" {
				id = runID(t, text)
			}
			if kills == 0 {
				t.Fatal("the final stage finished before any kill; nothing was tested")
			}
			if got := reportJSON(t, dir, id); got != want {
				t.Errorf("after %d kills in the final stage the report differs from the uninterrupted run's:\n%s\nwant\n%s", kills, got, want)
			}
			t.Logf("finished after %d kills during the final stage", kills)
			return
		}
		if id == "" {
			mu.Lock()
			id = runID(t, errb.String())
			mu.Unlock()
		}
		args = []string{"resume", id, "--static-eval"}
	}
	t.Fatal("the final stage did not finish after 100 coordinator starts")
}

// closedTime returns a channel that is ready at once.
func closedTime() <-chan time.Time {
	c := make(chan time.Time, 1)
	c <- time.Time{}
	return c
}
