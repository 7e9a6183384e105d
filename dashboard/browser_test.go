package dashboard_test

import (
	"bytes"
	"context"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/star-pipeline/star-pipeline/dashboard"
	"github.com/star-pipeline/star-pipeline/plot/plottest"
)

const chromiumPath = "/usr/bin/chromium"

// chromium runs headless Chromium with args and returns its stdout.
func chromium(t *testing.T, profile string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + profile}
	cmd := exec.CommandContext(ctx, chromiumPath, append(base, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// TestBrowser loads the dashboard in headless Chromium: the Pareto chart
// must hold one mark per front candidate and the candidate page must draw
// its slots.
func TestBrowser(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is missing: install chromium (apt-get install -y chromium)", chromiumPath)
		}
		t.Skipf("%s is missing; apt-get install -y chromium to run this test", chromiumPath)
	}
	if testing.Short() {
		t.Skip("starts a browser")
	}
	s, _ := setup(t, dashboard.Options{Refresh: -1})
	srv := httptest.NewServer(s) // listens on 127.0.0.1:0
	defer srv.Close()
	dir := t.TempDir()

	dom := string(chromium(t, filepath.Join(dir, "profile-run"), "--dump-dom", srv.URL+"/runs/"+plottest.Demo))
	if got := strings.Count(dom, `data-front="1"`); got != len(plottest.DemoFront) {
		t.Errorf("the Pareto chart has %d front marks, want %d", got, len(plottest.DemoFront))
	}
	for _, id := range plottest.DemoFront {
		if !strings.Contains(dom, `data-candidate="`+id+`"`) {
			t.Errorf("the Pareto chart has no mark for %s", id)
		}
	}
	if !strings.Contains(dom, `data-seed="1"`) {
		t.Error("the Pareto chart marks no seed genome")
	}

	dom = string(chromium(t, filepath.Join(dir, "profile-cand"), "--dump-dom", srv.URL+"/candidates/r-demo/g002/c0001"))
	if got := strings.Count(dom, `class="slot"`); got != 8 {
		t.Errorf("the candidate page draws %d slots, want 8", got)
	}
	if !strings.Contains(dom, `data-share="BC"`) {
		t.Error("the candidate page draws no feature-sharing arc")
	}

	shot := filepath.Join(dir, "shot.png")
	chromium(t, filepath.Join(dir, "profile-shot"), "--screenshot="+shot, "--window-size=1280,900",
		"--hide-scrollbars", srv.URL+"/runs/"+plottest.Demo)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("screenshot: %v", err)
	}
	if b := img.Bounds(); b.Dx() != 1280 || b.Dy() != 900 {
		t.Errorf("screenshot is %v, want 1280x900", b)
	}
	// A page that rendered has more than a handful of colours.
	colours := map[uint32]bool{}
	for y := 0; y < img.Bounds().Dy(); y += 7 {
		for x := 0; x < img.Bounds().Dx(); x += 7 {
			r, g, b, _ := img.At(x, y).RGBA()
			colours[r>>8<<16|g>>8<<8|b>>8] = true
		}
	}
	if len(colours) < 20 {
		t.Errorf("the screenshot has %d colours: the page looks blank", len(colours))
	}
	t.Logf("screenshot: %s", shot)
}
