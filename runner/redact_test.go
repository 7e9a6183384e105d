package runner

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"
)

// TestCredentialsNeverInErrors opens addresses that carry the password
// "S3cret" in every malformed and unreachable shape a user can type: no
// error, no description and no log line shows any part of it, and a
// malformed address is ErrInvalidOptions, not ErrRedisUnreachable.
func TestCredentialsNeverInErrors(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close() // nothing listens there now
	cases := []struct {
		addr    string
		db      int
		invalid bool   // ErrInvalidOptions; otherwise ErrRedisUnreachable
		secrets string // space-separated fragments that must not appear
	}{
		{addr: "redis://:S3cret%zz@" + closed + "/0", invalid: true, secrets: "S3cret %zz"},
		{addr: "redis://user:S3cret%zz@" + closed, invalid: true, secrets: "S3cret %zz"},
		{addr: "redis:/:S3cret@" + closed, invalid: true, secrets: "S3cret"},
		{addr: "redis//:S3cret@" + closed, invalid: true, secrets: "S3cret"},
		{addr: ":S3cret@" + closed, invalid: true, secrets: "S3cret"},
		{addr: "redis://:S3/cret@" + closed + "/0", invalid: true, secrets: "S3 cret"},
		{addr: "redis://:12/S3cret@" + closed + "/0", invalid: true, secrets: "S3cret"},
		{addr: "redis://:S3?cret@" + closed + "/0", invalid: true, secrets: "cret"},
		{addr: "redis://u:S3cret@[::1", invalid: true, secrets: "S3cret"},
		{addr: "redis://:S3cret@" + closed + "/x", invalid: true, secrets: "S3cret"},
		{addr: "unix://:12/S3cret@/nonexistent/redis.sock", invalid: true, secrets: "S3cret"},
		{addr: "redis://:S3cret@" + closed + "/0", db: -1, invalid: true, secrets: "S3cret"},
		{addr: "redis://:S3cret@" + closed + "/0", secrets: "S3cret"},
		{addr: "", db: -1, invalid: true},
		{addr: "REDIS://:S3cret@" + closed + "/0", secrets: "S3cret"},
		{addr: "rediss://user:S3cret@" + closed, secrets: "S3cret"},
		{addr: "unix://:S3cret@/nonexistent/redis.sock", secrets: "S3cret"},
	}
	for _, tc := range cases {
		var logs bytes.Buffer
		log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		o := Options{Addr: tc.addr, DB: tc.db, PingTimeout: time.Second, Logger: log}
		_, err := Open(context.Background(), o)
		switch {
		case err == nil:
			t.Errorf("%s: Open succeeded", tc.addr)
			continue
		case tc.invalid && !errors.Is(err, ErrInvalidOptions):
			t.Errorf("%s: Open = %v, want ErrInvalidOptions", tc.addr, err)
		case !tc.invalid && !errors.Is(err, ErrRedisUnreachable):
			t.Errorf("%s: Open = %v, want ErrRedisUnreachable", tc.addr, err)
		}
		for _, s := range strings.Fields(tc.secrets) {
			for what, text := range map[string]string{"error": err.Error(), "String()": o.String(), "log": logs.String()} {
				if strings.Contains(text, s) {
					t.Errorf("%s: %s shows %q: %s", tc.addr, what, s, text)
				}
			}
		}
	}
}

func TestRedactAddr(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"127.0.0.1:6379":                       "127.0.0.1:6379",
		"/run/redis.sock":                      "/run/redis.sock",
		"redis://host:7000/3":                  "redis://host:7000/3",
		"redis://:pw@host:7000/3":              "redis://host:7000/3",
		"REDIS://user:pw@host":                 "REDIS://host",
		"rediss://u:p@ss@host:1":               "rediss://host:1",
		"redis:/:pw@host:1":                    "xxxxx@host:1",
		"pw@host":                              "xxxxx@host",
		"unix://:pw@/run/redis.sock":           "unix:///run/redis.sock",
		"redis://:pw@host/0?client_name=a%40b": "redis://host/0?client_name=a%40b",
	} {
		if got := redactAddr(in); got != want {
			t.Errorf("redactAddr(%q) = %q, want %q", in, got, want)
		}
	}
}
