package redistest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func client(t *testing.T, network, addr, password string) *redis.Client {
	t.Helper()
	c := redis.NewClient(&redis.Options{Network: network, Addr: addr, Password: password, MaxRetries: -1})
	t.Cleanup(func() { c.Close() })
	return c
}

func TestStartWithPasswordAndTCP(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := Start(t, WithPassword("s3cret"), WithTCP())
	if s.TCPAddr == "" || !s.Running() || s.PID() == 0 {
		t.Fatalf("server: %+v", s)
	}
	for _, c := range []*redis.Client{client(t, "unix", s.Socket, "s3cret"), client(t, "tcp", s.TCPAddr, "s3cret")} {
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	err := client(t, "unix", s.Socket, "").Ping(ctx).Err()
	if err == nil {
		t.Fatal("PING without password succeeded")
	}
	if err := client(t, "unix", s.Socket, "wrong").Ping(ctx).Err(); err == nil {
		t.Fatal("PING with a wrong password succeeded")
	}
}

func TestKillRestart(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, persist := range []bool{false, true} {
		var opts []Option
		if persist {
			opts = append(opts, WithAppendOnly())
		}
		s := Start(t, opts...)
		c := client(t, "unix", s.Socket, "")
		if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
		pid := s.PID()
		s.Kill()
		if s.Running() {
			t.Fatal("still running after Kill")
		}
		if err := c.Ping(ctx).Err(); err == nil {
			t.Fatal("PING succeeded after Kill")
		}
		s.Restart()
		if s.PID() == pid || !s.Running() {
			t.Fatalf("restart: pid %d -> %d", pid, s.PID())
		}
		v, err := c.Get(ctx, "k").Result()
		switch {
		case persist && (err != nil || v != "v"):
			t.Errorf("append-only data lost: %q, %v", v, err)
		case !persist && !errors.Is(err, redis.Nil):
			t.Errorf("data survived without persistence: %q, %v", v, err)
		}
	}
}

func TestPauseResume(t *testing.T) {
	t.Parallel()
	s := Start(t)
	c := redis.NewClient(&redis.Options{Network: "unix", Addr: s.Socket, MaxRetries: -1, ReadTimeout: 200 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	ctx := context.Background()
	if err := c.Set(ctx, "k", "v", 0).Err(); err != nil {
		t.Fatal(err)
	}
	s.Pause()
	if err := c.Ping(ctx).Err(); err == nil {
		t.Fatal("PING answered while paused")
	}
	s.Resume()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := c.Get(ctx, "k").Result()
		if err == nil {
			if v != "v" {
				t.Fatalf("after resume k = %q", v)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no answer after resume: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
