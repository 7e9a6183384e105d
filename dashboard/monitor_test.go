package dashboard_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/star-pipeline/star-pipeline/dashboard"
	"github.com/star-pipeline/star-pipeline/storage"
)

// fakeMonitor stands in for asynqmon: it records what reached it.
type fakeMonitor struct {
	mu   sync.Mutex
	seen []string
}

func (m *fakeMonitor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.seen = append(m.seen, r.Method+" "+r.URL.Path)
	m.mu.Unlock()
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		w.Write([]byte("<html>monitor</html>"))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (m *fakeMonitor) reached() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...)
}

// TestMonitorGuarded checks that the queue monitor sits behind the same
// checks as the run actions: read-only unless AllowActions, no cross-site
// changes, and every change logged without the request's credentials.
func TestMonitorGuarded(t *testing.T) {
	t.Parallel()
	const pause = "/monitoring/api/queues/star-train:pause"
	const archive = "/monitoring/api/queues/star-train/pending_tasks:archive_all"
	for _, allow := range []bool{false, true} {
		mon := &fakeMonitor{}
		var logs bytes.Buffer
		s, _ := setup(t, dashboard.Options{AllowActions: allow, Monitor: mon, MonitoringPath: "/monitoring/",
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
		steps := []struct {
			method, target string
			headers        map[string]string
			code           int // when actions are allowed; otherwise 403 for every change
		}{
			{"GET", "/monitoring/", nil, 200},
			{"HEAD", "/monitoring/api/queues", nil, 200},
			{"POST", pause, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
			{"POST", archive, map[string]string{"Origin": "http://evil.example", "Sec-Fetch-Site": "cross-site"}, 403},
			{"POST", archive, map[string]string{"Origin": "http://evil.example"}, 403},
			{"DELETE", "/monitoring/api/queues/star-train", map[string]string{"Sec-Fetch-Site": "same-site"}, 403},
			{"POST", pause, map[string]string{"Origin": "http://" + testHost, "Sec-Fetch-Site": "same-origin",
				"Cookie": "session=c00kie", "Authorization": "Basic c2VjcmV0"}, 204},
			{"POST", archive + "?token=t0ken", nil, 204}, // curl: no Origin, no Sec-Fetch-Site
		}
		for _, st := range steps {
			req := request(st.method, st.target)
			for k, v := range st.headers {
				req.Header.Set(k, v)
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			want := st.code
			if !allow && st.method != "GET" && st.method != "HEAD" {
				want = http.StatusForbidden
			}
			if rec.Code != want {
				t.Errorf("allow-actions %t: %s %s %v: %d, want %d\n%.300s", allow, st.method, st.target, st.headers, rec.Code, want, rec.Body)
			}
		}
		got := strings.Join(mon.reached(), "\n")
		want := "GET /monitoring/\nHEAD /monitoring/api/queues"
		if allow {
			want += "\nPOST " + pause + "\nPOST " + archive
		}
		if got != want {
			t.Errorf("allow-actions %t: the monitor saw\n%s\nwant\n%s", allow, got, want)
		}
		out := logs.String()
		for _, secret := range []string{"c00kie", "c2VjcmV0", "t0ken"} {
			if strings.Contains(out, secret) {
				t.Errorf("allow-actions %t: the log shows %q:\n%s", allow, secret, out)
			}
		}
		if allow && (strings.Count(out, "queue monitor action") != 2 || !strings.Contains(out, "path="+archive) ||
			!strings.Contains(out, "status=204")) {
			t.Errorf("the log lacks the two changes:\n%s", out)
		}
		if !allow && !strings.Contains(out, "refused") {
			t.Errorf("the log lacks the refused changes:\n%s", out)
		}
	}
}

// TestMonitorHeaders checks that the monitor's page, which runs inline
// scripts and styles, does not get the dashboard's script and style policy,
// but may not be framed either; the dashboard's pages keep theirs.
func TestMonitorHeaders(t *testing.T) {
	t.Parallel()
	s, _ := setup(t, dashboard.Options{Monitor: &fakeMonitor{}, MonitoringPath: "/monitoring/"})
	for target, want := range map[string]string{
		"/monitoring/":           "frame-ancestors 'none'",
		"/monitoring/api/queues": "frame-ancestors 'none'",
		"/":                      "default-src 'none'; style-src 'self'; script-src 'self'",
	} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, request("GET", target))
		csp := rec.Header().Get("Content-Security-Policy")
		if !strings.HasPrefix(csp, want) || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("GET %s: Content-Security-Policy %q, want %q...", target, csp, want)
		}
		if strings.HasPrefix(target, "/monitoring/") && strings.Contains(csp, "script-src") {
			t.Errorf("GET %s: Content-Security-Policy %q blocks the monitor's inline scripts", target, csp)
		}
		if rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", target)
		}
	}
}

func TestMonitorNeedsPath(t *testing.T) {
	t.Parallel()
	db, err := storage.Open(context.Background(), t.TempDir()+"/star.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, p := range []string{"", "monitoring/", "/monitoring", "/api/", "/"} {
		if _, err := dashboard.New(db, dashboard.Options{Monitor: &fakeMonitor{}, MonitoringPath: p}); !errors.Is(err, dashboard.ErrInvalidOptions) {
			t.Errorf("Monitor at %q: New = %v, want ErrInvalidOptions", p, err)
		}
	}
}
