package dashboard_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/star-pipeline/star-pipeline/dashboard"
	"github.com/star-pipeline/star-pipeline/plot/plottest"
	"github.com/star-pipeline/star-pipeline/storage"
)

// TestHostCheck sends requests with the Host headers of DNS rebinding (a
// foreign name that resolves to the server) and of legitimate clients.
func TestHostCheck(t *testing.T) {
	t.Parallel()
	cases := []struct {
		allowed []string
		ok      []string
		refused []string
	}{
		{allowed: nil, // the default: loopback names on any port
			ok:      []string{"localhost:8080", "127.0.0.1", "127.0.0.1:9", "[::1]:8080", "[::1]", "LOCALHOST.:8080"},
			refused: []string{"evil.example", "evil.example:8080", "127.0.0.1.evil.example:8080", "10.0.0.5:8080", "", "localhost:8080:1"}},
		{allowed: []string{"dash.internal", "10.0.0.5:8080", "localhost:8080", "[fd00::1]:8080"},
			ok:      []string{"dash.internal", "Dash.Internal:9999", "10.0.0.5:8080", "localhost:8080", "[fd00::1]:8080"},
			refused: []string{"10.0.0.5:8081", "10.0.0.5", "localhost:8081", "127.0.0.1:8080", "evil.example:8080", "[fd00::1]:80"}},
		{allowed: []string{"example.org"},
			ok:      []string{"example.org", "example.org:80"},
			refused: []string{"www.example.org"}},
		{allowed: []string{"*"},
			ok: []string{"evil.example:8080", "anything"}},
	}
	for _, tc := range cases {
		s, _ := setup(t, dashboard.Options{AllowedHosts: tc.allowed})
		for _, host := range tc.ok {
			req := request("GET", "/api/runs")
			req.Host = host
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Errorf("allowed %q: Host %q: %d, want 200\n%.300s", tc.allowed, host, rec.Code, rec.Body)
			}
		}
		for _, host := range tc.refused {
			req := request("GET", "/api/runs")
			req.Host = host
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			if rec.Code != http.StatusMisdirectedRequest || !strings.Contains(rec.Body.String(), "not served here") ||
				strings.Contains(rec.Body.String(), plottest.Demo) {
				t.Errorf("allowed %q: Host %q: %d, want 421 saying why\n%.300s", tc.allowed, host, rec.Code, rec.Body)
			}
		}
	}
}

// TestRebindingCannotAct checks that a page of another site, whose name
// resolves to the dashboard's loopback address, cannot cancel a run: its
// requests carry its own name as Host, and same-origin headers.
func TestRebindingCannotAct(t *testing.T) {
	t.Parallel()
	s, db := setup(t, dashboard.Options{AllowActions: true})
	for _, target := range []string{"/api/runs/r-demo/cancel", "/runs/r-demo/cancel"} {
		req := request("POST", target)
		req.Host = "rebind.evil.example:8080"
		req.Header.Set("Origin", "http://rebind.evil.example:8080")
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusMisdirectedRequest {
			t.Errorf("POST %s from a rebound name: %d, want 421", target, rec.Code)
		}
	}
	if r, err := db.GetRun(context.Background(), plottest.Demo); err != nil || r.Status != storage.RunRunning {
		t.Errorf("run after rebound requests: %s, %v; want running", r.Status, err)
	}
}

func TestAllowedHostsInvalid(t *testing.T) {
	t.Parallel()
	db, err := storage.Open(context.Background(), t.TempDir()+"/star.db")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, bad := range []string{"", "http://example.org", "a/b", "host:port", "host:8080:1", "user@host", "exa mple.org", "[::1"} {
		_, err := dashboard.New(db, dashboard.Options{AllowedHosts: []string{bad}})
		if !errors.Is(err, dashboard.ErrInvalidOptions) || !strings.Contains(err.Error(), "allowed host") {
			t.Errorf("AllowedHosts [%q]: New = %v, want ErrInvalidOptions naming it", bad, err)
		}
	}
}
