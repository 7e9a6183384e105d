package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/dashboard"
	"github.com/star-pipeline/star-pipeline/plot/plottest"
	"github.com/star-pipeline/star-pipeline/runner"
	"github.com/star-pipeline/star-pipeline/storage"
)

// now is the fixed clock of the tests: one hour after the fixture runs
// were created.
var now = plottest.Created.Add(time.Hour)

// setup opens a lineage database in a temporary directory, writes the
// fixture runs into it and returns a dashboard over it.
func setup(t *testing.T, opts dashboard.Options) (*dashboard.Server, *storage.DB) {
	t.Helper()
	db := plottest.Open(t)
	opts.Now = func() time.Time { return now }
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s, err := dashboard.New(db, opts)
	if err != nil {
		t.Fatal(err)
	}
	return s, db
}

// testHost is the Host of the tests' requests: one the dashboard answers
// by default.
const testHost = "127.0.0.1:8080"

// request returns a request to the dashboard at testHost.
func request(method, target string) *http.Request {
	req := httptest.NewRequest(method, target, nil)
	req.Host = testHost
	return req
}

// do serves one request and returns the status code, content type and body.
func do(t *testing.T, h http.Handler, method, target string) (int, string, string) {
	t.Helper()
	req := request(method, target)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Header().Get("Content-Type"), rec.Body.String()
}

func TestPages(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, dashboard.Options{})
	front := `data-front="1"`
	tests := []struct {
		target string
		code   int
		ctype  string
		want   []string // substrings of the body
		count  map[string]int
		absent []string
	}{
		{target: "/", code: 200, ctype: "text/html",
			want: []string{plottest.Demo, plottest.Perplexity, plottest.Empty, "running", "finished", "pending",
				"3/3", "mad_score <b>0.36</b>", "params <b>240000</b>", `data-refresh="5"`, "1h00m"}},
		{target: "/runs/r-demo", code: 200, ctype: "text/html",
			want: []string{"Pareto front", "4 on the front", `data-seed="1"`, "Hypervolume per generation",
				`<polyline class="hv-line"`, "Generation 3", "r-demo/g003/c0005", `data-refresh="5"`,
				`href="/candidates/r-demo/g003/c0000"`, "objectives:"},
			count:  map[string]int{front: 4, `<tr class="front`: 3},
			absent: []string{`class="actions"`}},
		{target: "/runs/r-demo?x=params&y=mad_score&gen=1&sort=mad_score&order=desc", code: 200, ctype: "text/html",
			want: []string{"Generation 1", "mad_score ▼"}, count: map[string]int{front: 4}},
		{target: "/runs/r-demo?x=generation&y=params", code: 200, ctype: "text/html"},
		{target: "/runs/r-ppl", code: 200, ctype: "text/html", want: []string{"perplexity against generation"},
			absent: []string{"data-refresh"}},
		{target: "/runs/r-empty", code: 200, ctype: "text/html",
			want: []string{"no evaluated candidates yet", "No candidates yet"}},
		{target: "/runs/nope", code: 404, ctype: "text/html", want: []string{"no run"}},
		{target: "/runs/r-demo?x=latency", code: 400, ctype: "text/html", want: []string{"bad x"}},
		{target: "/runs/r-demo?y=", code: 400},
		{target: "/runs/r-demo?sort=colour", code: 400, want: []string{"bad sort"}},
		{target: "/runs/r-demo?order=up", code: 400},
		{target: "/runs/r-demo?gen=9", code: 400, want: []string{"bad gen"}},
		{target: "/runs/r-demo?gen=x", code: 400},
		{target: "/runs/r-empty?gen=0", code: 400},
		{target: "/runs/r-demo/classes", code: 200, ctype: "text/html",
			want: []string{"LIV classes", "Generation 3", `class="class-row"`, "g0", "g3", "Rec-1"}},
		{target: "/runs/r-demo/classes?gen=0", code: 200, want: []string{"Generation 0"}},
		{target: "/runs/r-demo/classes?gen=-1", code: 400},
		{target: "/runs/r-empty/classes", code: 200, want: []string{"No candidates yet"}},
		{target: "/runs/nope/classes", code: 404},
		{target: "/candidates/r-demo/g001/c0000", code: 200, ctype: "text/html",
			want: []string{"SA-1", "Rec-1", "parameters", "inference cache", "Training loss", `class="loss-line"`,
				`href="/candidates/r-demo/g000/c0000"`, `href="/candidates/r-demo/g002/c0000"`,
				`href="/api/candidates/r-demo/g001/c0000/export"`, `data-share="feat"`},
			count: map[string]int{`class="slot"`: 8}},
		{target: "/candidates/r-demo/g002/c0001", code: 200, want: []string{`data-share="BC"`}},
		{target: "/candidates/r-demo/g000/c0005", code: 200, want: []string{"training diverged", "No loss curve"}},
		{target: "/candidates/r-demo/g003/c0005", code: 200, want: []string{"Not evaluated yet", "None yet"}},
		{target: "/candidates/r-demo/g009/c0000", code: 404, want: []string{"no candidate"}},
		{target: "/candidates/", code: 404},
		{target: "/api/runs", code: 200, ctype: "application/json", want: []string{`"id": "r-demo"`, `"evaluated": 19`}},
		{target: "/api/runs?status=running", code: 200, ctype: "application/json", absent: []string{"r-ppl"}},
		{target: "/api/runs?status=odd", code: 400, ctype: "application/json", want: []string{`"error"`}},
		{target: "/api/runs/r-demo", code: 200, ctype: "application/json",
			want: []string{`"history"`, `"front"`, `"config_yaml"`, `"hypervolume": 0.53`}},
		{target: "/api/runs/nope", code: 404, ctype: "application/json", want: []string{`"error"`}},
		{target: "/api/candidates/r-demo/g002/c0000", code: 200, ctype: "application/json",
			want: []string{`"wiring"`, `"costs"`, `"children": [`, "r-demo/g003/c0000"}},
		{target: "/api/candidates/r-demo/g002/c0000/export", code: 200, ctype: "application/json",
			want: []string{`"slots"`, `"config"`, `"dims"`, `"costs"`}},
		{target: "/api/candidates/nope", code: 404, ctype: "application/json"},
		{target: "/api/candidates/nope/export", code: 404, ctype: "application/json"},
		{target: "/api/nothing", code: 404, ctype: "application/json"},
		{target: "/metrics", code: 200, ctype: "text/plain",
			want: []string{`star_candidates_evaluated{run="r-demo"} 19`, `star_candidates_failed{run="r-demo"} 2`,
				`star_run_hypervolume{run="r-demo"} 0.53`, `star_train_tokens_per_second{run="r-demo"}`,
				`star_run_status{run="r-ppl",status="finished"} 1`, "# TYPE star_candidates_evaluated gauge"},
			absent: []string{"star_queue"}},
		{target: "/static/app.css", code: 200, ctype: "text/css"},
		{target: "/static/app.js", code: 200, ctype: "javascript"},
		{target: "/static/nope.js", code: 404},
		{target: "/static/%c0%ae%c0%ae/etc/passwd", code: 404},
		{target: "/nowhere", code: 404, ctype: "text/html"},
	}
	for _, tc := range tests {
		code, ctype, body := do(t, s, "GET", tc.target)
		if code != tc.code {
			t.Errorf("GET %s: %d, want %d\n%.600s", tc.target, code, tc.code, body)
			continue
		}
		if !strings.Contains(ctype, tc.ctype) {
			t.Errorf("GET %s: content type %q, want %q", tc.target, ctype, tc.ctype)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: body lacks %q", tc.target, w)
			}
		}
		for _, a := range tc.absent {
			if strings.Contains(body, a) {
				t.Errorf("GET %s: body has %q", tc.target, a)
			}
		}
		for sub, n := range tc.count {
			if got := strings.Count(body, sub); got != n {
				t.Errorf("GET %s: %d × %q, want %d", tc.target, got, sub, n)
			}
		}
	}
}

func TestAPIShapes(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, dashboard.Options{})
	var runs []dashboard.RunSummary
	decode(t, s, "/api/runs", &runs)
	if len(runs) != 3 || runs[0].ID != plottest.Empty || runs[1].ID != plottest.Demo || runs[2].ID != plottest.Perplexity {
		t.Fatalf("runs %+v, want newest first", runs)
	}
	demo := runs[1]
	if demo.Evaluated != 19 || demo.Failed != 2 || demo.Training != 2 || demo.Pending != 1 || demo.CurrentGeneration != 3 ||
		demo.Best["params"] != 240000 || demo.ElapsedSeconds != 3600 || demo.Hypervolume == nil || *demo.Hypervolume != 0.53 {
		t.Errorf("demo summary %+v", demo)
	}
	var detail struct {
		History []struct {
			Index      int
			Population []string
		}
		Front []struct{ ID string }
	}
	decode(t, s, "/api/runs/r-demo", &detail)
	if len(detail.History) != 4 || len(detail.History[3].Population) != 0 || len(detail.History[1].Population) != 6 {
		t.Errorf("history %+v", detail.History)
	}
	var ids []string
	for _, f := range detail.Front {
		ids = append(ids, f.ID)
	}
	if strings.Join(ids, " ") != strings.Join(plottest.DemoFront, " ") {
		t.Errorf("front %v, want %v", ids, plottest.DemoFront)
	}
	var cand struct {
		Parents  []string
		Children []string
		Costs    struct{ Params int64 }
		Wiring   []struct {
			FeatOwner int `json:"feat_owner"`
		}
	}
	decode(t, s, "/api/candidates/r-demo/g000/c0000", &cand)
	if len(cand.Parents) != 0 || len(cand.Children) != 3 || cand.Costs.Params <= 0 || len(cand.Wiring) != 8 {
		t.Errorf("candidate %+v", cand)
	}
}

func decode(t *testing.T, h http.Handler, target string, v any) {
	t.Helper()
	code, _, body := do(t, h, "GET", target)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", target, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", target, err, body)
	}
}

func TestActionsDisabled(t *testing.T) {
	t.Parallel()
	s, db := setup(t, dashboard.Options{})
	for _, target := range []string{"/runs/r-demo/pause", "/api/runs/r-demo/cancel", "/runs/nope/pause"} {
		if code, _, _ := do(t, s, "POST", target); code != http.StatusForbidden {
			t.Errorf("POST %s: %d, want 403", target, code)
		}
	}
	if code, _, _ := do(t, s, "GET", "/runs/r-demo/pause"); code != http.StatusNotFound {
		t.Errorf("GET of an action: %d, want 404", code)
	}
	r, _ := db.GetRun(context.Background(), plottest.Demo)
	if r.Status != storage.RunRunning {
		t.Errorf("status %s after refused actions", r.Status)
	}
}

func TestActions(t *testing.T) {
	t.Parallel()
	s, db := setup(t, dashboard.Options{AllowActions: true})
	ctx := context.Background()
	status := func(id string) (storage.RunStatus, string) {
		r, err := db.GetRun(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Status, r.Error
	}
	if _, _, body := do(t, s, "GET", "/runs/r-demo"); !strings.Contains(body, `action="/runs/r-demo/pause"`) ||
		!strings.Contains(body, `action="/runs/r-demo/cancel"`) || strings.Contains(body, `/resume"`) {
		t.Errorf("run page lacks the pause and cancel buttons")
	}
	steps := []struct {
		method, target string
		code           int
		status         storage.RunStatus
		body           string // in the answer
	}{
		{"POST", "/runs/r-demo/pause", http.StatusSeeOther, storage.RunPaused, ""},
		{"GET", "/runs/r-demo", http.StatusOK, storage.RunPaused, `action="/runs/r-demo/resume"`},
		{"GET", "/api/runs?status=paused", http.StatusOK, storage.RunPaused, `"status": "paused"`},
		{"GET", "/metrics", http.StatusOK, storage.RunPaused, `star_run_status{run="r-demo",status="paused"} 1`},
		{"POST", "/runs/r-demo/pause", http.StatusConflict, storage.RunPaused, "cannot pause run r-demo: it is paused"},
		{"POST", "/api/runs/r-demo/resume", http.StatusOK, storage.RunPending, `"status": "pending"`},
		{"POST", "/api/runs/r-demo/resume", http.StatusConflict, storage.RunPending, "cannot resume run r-demo: it is pending"},
		{"POST", "/api/runs/r-demo/pause", http.StatusOK, storage.RunPaused, `"status": "paused"`},
		{"POST", "/runs/r-demo/cancel", http.StatusSeeOther, storage.RunCancelled, ""},
		{"POST", "/runs/r-demo/resume", http.StatusConflict, storage.RunCancelled, "it is cancelled"},
		{"POST", "/runs/r-demo/explode", http.StatusNotFound, storage.RunCancelled, ""},
	}
	for _, st := range steps {
		code, _, body := do(t, s, st.method, st.target)
		if code != st.code || !strings.Contains(body, st.body) {
			t.Fatalf("%s %s: %d, want %d and %q\n%.400s", st.method, st.target, code, st.code, st.body, body)
		}
		if got, msg := status(plottest.Demo); got != st.status {
			t.Fatalf("%s %s: run %s (%q), want %s", st.method, st.target, got, msg, st.status)
		}
	}
	if _, msg := status(plottest.Demo); msg != dashboard.CancelMessage {
		t.Errorf("cancelled run's error %q, want %q", msg, dashboard.CancelMessage)
	}
	if code, _, _ := do(t, s, "POST", "/api/runs/nope/pause"); code != http.StatusNotFound {
		t.Errorf("action on a missing run: %d, want 404", code)
	}
	if code, _, _ := do(t, s, "POST", "/runs/r-ppl/cancel"); code != http.StatusConflict {
		t.Errorf("cancelling a finished run: %d, want 409", code)
	}

	// A cross-site form post is refused before it touches the run.
	req := request("POST", "/runs/r-empty/cancel")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Errorf("cross-site post: %d, want 403", rec.Code)
	}
	if st, _ := status(plottest.Empty); st != storage.RunPending {
		t.Errorf("cross-site post changed the run to %s", st)
	}

	// A failed run resumes, with its error cleared; it cannot be paused.
	if err := db.SetRunStatus(ctx, plottest.Empty, storage.RunFailed, "out of memory"); err != nil {
		t.Fatal(err)
	}
	if code, _, _ := do(t, s, "POST", "/api/runs/r-empty/pause"); code != http.StatusConflict {
		t.Errorf("pausing a failed run: %d, want 409", code)
	}
	if code, _, body := do(t, s, "POST", "/api/runs/r-empty/resume"); code != http.StatusOK {
		t.Errorf("resuming a failed run: %d %s", code, body)
	}
	if st, msg := status(plottest.Empty); st != storage.RunPending || msg != "" {
		t.Errorf("failed run resumed to %s (%q), want pending with no error", st, msg)
	}
}

func TestQueueMetrics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b, err := runner.Open(ctx, runner.Options{}) // embedded miniredis
	if err != nil {
		t.Fatal(err)
	}
	closed := false // Broker.Close must run once
	defer func() {
		if !closed {
			b.Close()
		}
	}()
	if _, err := b.EnqueueOnce(context.Background(), runner.Job{Kind: "star:test", ID: "test-1", Queue: "train"}); err != nil {
		t.Fatal(err)
	}
	s, _ := setup(t, dashboard.Options{Queues: b})
	code, _, body := do(t, s, "GET", "/metrics")
	if code != 200 {
		t.Fatalf("GET /metrics: %d", code)
	}
	for _, want := range []string{"star_queue_up 1", `star_queue_tasks{queue="train",state="pending"} 1`,
		`star_queue_tasks{queue="train",state="active"} 0`, `star_queue_latency_seconds{queue="train"}`,
		`star_candidates_evaluated{run="r-demo"} 19`} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q:\n%s", want, body)
		}
	}

	// A queue that stops answering is reported, not fatal to the scrape.
	closed = true
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	code, _, body = do(t, s, "GET", "/metrics")
	if code != 200 || !strings.Contains(body, "star_queue_up 0") || !strings.Contains(body, "star_candidates_evaluated") {
		t.Errorf("after the queue closed: %d\n%s", code, body)
	}
}

// TestNever500 sends odd requests and stored data the pages must survive:
// every answer is below 500.
func TestNever500(t *testing.T) {
	t.Parallel()
	s, db := setup(t, dashboard.Options{AllowActions: true})
	ctx := context.Background()
	// A run whose config does not parse, with a genome that does not parse
	// and one whose class ids are out of range.
	if err := db.CreateRun(ctx, storage.Run{ID: "r-odd", Config: "objectives: [\n", Status: storage.RunRunning,
		Population: 2, Generations: 1}); err != nil {
		t.Fatal(err)
	}
	err := db.AddCandidates(ctx,
		storage.Candidate{RunID: "r-odd", Generation: 0, Index: 0, Genome: "garbage", Operator: storage.OpSeed,
			Status: storage.CandEvaluated, Objectives: map[string]float64{"mad_score": 0.5, "params": 10},
			Metrics: json.RawMessage(`{"losses": "not an array", "train_tokens_per_s": "fast"}`)},
		storage.Candidate{RunID: "r-odd", Generation: 0, Index: 1, Genome: "99.1.1.1.1-11111", Operator: storage.OpRandom,
			Parents: []string{"r-odd/g000/c0000"}, Metrics: json.RawMessage(`[1,2]`)},
		storage.Candidate{RunID: "r-odd", Generation: 1, Index: 0, Genome: "11111-92121", Operator: storage.OpMutation,
			Parents: []string{"r-demo/g000/c0000"}, Status: storage.CandEvaluated,
			Objectives: map[string]float64{"latency": 1}})
	if err != nil {
		t.Fatal(err)
	}
	targets := []string{
		"/runs/r-odd", "/runs/r-odd?x=params&y=mad_score&sort=params", "/runs/r-odd/classes", "/api/runs/r-odd",
		"/candidates/r-odd/g000/c0000", "/candidates/r-odd/g000/c0001", "/candidates/r-odd/g001/c0000",
		"/api/candidates/r-odd/g000/c0000", "/api/candidates/r-odd/g000/c0001/export",
		"/api/candidates/r-odd/g001/c0000/export", "/metrics", "/", "/api/runs",
		"/runs/%00", "/runs/r-demo?x=%ff", "/runs/r-demo?gen=99999999999999999999", "/runs/r-demo?sort=",
		"/runs/r-demo?x=mad_score&x=params", "/runs/r-demo/classes?gen=", "/api/runs?status=",
		"/candidates/r-demo/g001", "/candidates/r-demo/g001/c0000/extra", "/api/candidates/r-demo/g001/c0000/export/x",
		"/api/candidates//export", "/runs/", "/runs/r-demo/", "/runs/r-demo/classes/x", "/static/",
		"/candidates/r-demo/../../etc/passwd", "/runs/" + strings.Repeat("x", 5000),
		"/static/%c0%ae%c0%ae/etc/passwd", "/static/%ff", "/static/a%00b", "/static/..%2fapp.css",
	}
	for _, target := range targets {
		if code, _, body := do(t, s, "GET", target); code >= 500 {
			t.Errorf("GET %s: %d\n%.300s", target, code, body)
		}
	}
	for _, target := range []string{"/runs/r-odd/pause", "/api/runs/r-odd/cancel", "/runs/%00/pause", "/api/runs/x/y"} {
		if code, _, body := do(t, s, "POST", target); code >= 500 {
			t.Errorf("POST %s: %d\n%.300s", target, code, body)
		}
	}
}

// /api/ lists the JSON endpoints, so that a newcomer who opens it finds
// the rest; /api answers the same.
func TestAPIIndex(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, dashboard.Options{})
	for _, target := range []string{"/api/", "/api"} {
		code, ctype, body := do(t, s, "GET", target)
		if code != 200 || !strings.HasPrefix(ctype, "application/json") {
			t.Fatalf("GET %s: %d %s\n%s", target, code, ctype, body)
		}
		var idx struct {
			Endpoints []struct {
				Method, Path, Description string
			} `json:"endpoints"`
			ActionsEnabled bool   `json:"actions_enabled"`
			Docs           string `json:"docs"`
		}
		if err := json.Unmarshal([]byte(body), &idx); err != nil {
			t.Fatalf("GET %s: %v\n%s", target, err, body)
		}
		paths := map[string]bool{}
		for _, e := range idx.Endpoints {
			if e.Description == "" {
				t.Errorf("%s %s has no description", e.Method, e.Path)
			}
			paths[e.Method+" "+e.Path] = true
		}
		for _, want := range []string{"GET /api/runs", "GET /api/runs/{id}", "GET /api/candidates/{id}",
			"GET /api/candidates/{id}/export", "POST /api/runs/{id}/{action}", "GET /metrics"} {
			if !paths[want] {
				t.Errorf("GET %s does not list %s:\n%s", target, want, body)
			}
		}
		if idx.ActionsEnabled || !strings.Contains(idx.Docs, "docs/api.md") {
			t.Errorf("GET %s: actions_enabled %v, docs %q", target, idx.ActionsEnabled, idx.Docs)
		}
	}
	if code, _, _ := do(t, s, "GET", "/api/nothing"); code != 404 {
		t.Errorf("GET /api/nothing: %d, want 404", code)
	}
}
