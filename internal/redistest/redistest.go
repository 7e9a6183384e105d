// Package redistest starts a real redis-server for tests: on a unix socket
// in the test's temporary directory, optionally also on a loopback TCP port
// and with a password, killed when the test ends. Kill and Restart simulate
// a crash of the queue's server; Pause and Resume a server that stalls.
//
// Without redis-server on PATH, Start skips the test, except under CI=true,
// where it fails it: CI must install redis-server.
package redistest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartTimeout bounds how long Start and Restart wait for the server to
// answer PING.
const StartTimeout = 15 * time.Second

// maxSocketPath leaves room under the 108-byte sun_path limit.
const maxSocketPath = 100

// Server is a running redis-server owned by one test.
type Server struct {
	// Socket is the unix socket path.
	Socket string
	// TCPAddr is "127.0.0.1:port" when started WithTCP, else "".
	TCPAddr string
	// Password is the requirepass password, "" for none.
	Password string
	// Dir holds the socket, the log and any persistence files.
	Dir string

	t      testing.TB
	bin    string
	args   []string
	cmd    *exec.Cmd
	exited chan struct{}
}

type options struct {
	password   string
	tcp        bool
	appendOnly bool
}

// Option configures Start.
type Option func(*options)

// WithPassword makes the server require pw (requirepass).
func WithPassword(pw string) Option { return func(o *options) { o.password = pw } }

// WithTCP also listens on a free port of 127.0.0.1.
func WithTCP() Option { return func(o *options) { o.tcp = true } }

// WithAppendOnly persists every write (appendonly, fsync always), so data
// survives Kill and Restart. Without it a restarted server is empty: a lost
// queue.
func WithAppendOnly() Option { return func(o *options) { o.appendOnly = true } }

// Start starts a redis-server and stops it at the end of the test.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("redis-server not found on PATH; CI must install it (apt-get install redis-server): %v", err)
		}
		t.Skipf("redis-server not found on PATH (apt-get install redis-server): %v", err)
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	dir := t.TempDir()
	if len(filepath.Join(dir, "redis.sock")) > maxSocketPath {
		dir, err = os.MkdirTemp("", "redistest")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	s := &Server{
		Socket:   filepath.Join(dir, "redis.sock"),
		Password: o.password,
		Dir:      dir,
		t:        t,
		bin:      bin,
	}
	t.Cleanup(s.stop)
	for try := 0; ; try++ {
		port := 0
		if o.tcp {
			port = freePort(t)
			s.TCPAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		}
		s.args = s.buildArgs(port, o)
		err := s.start()
		if err == nil {
			return s
		}
		if !o.tcp || try == 2 || !strings.Contains(s.logTail(), "Address already in use") {
			t.Fatalf("starting redis-server: %v\n%s", err, s.logTail())
		}
	}
}

func (s *Server) buildArgs(port int, o options) []string {
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--protected-mode", "yes",
		"--unixsocket", s.Socket,
		"--unixsocketperm", "700",
		"--dir", s.Dir,
		"--logfile", filepath.Join(s.Dir, "redis.log"),
		"--daemonize", "no",
		"--save", "",
	}
	if o.appendOnly {
		args = append(args, "--appendonly", "yes", "--appendfsync", "always")
	} else {
		args = append(args, "--appendonly", "no")
	}
	if o.password != "" {
		args = append(args, "--requirepass", o.password)
	}
	return args
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (s *Server) start() error {
	os.Remove(s.Socket)
	cmd := exec.Command(s.bin, s.args...)
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return err
	}
	s.cmd = cmd
	exited := make(chan struct{})
	s.exited = exited
	go func() {
		cmd.Wait()
		close(exited)
	}()
	deadline := time.Now().Add(StartTimeout)
	for {
		select {
		case <-exited:
			return fmt.Errorf("redis-server exited during start: %v", cmd.ProcessState)
		default:
		}
		if ready(s.Socket) {
			return nil
		}
		if time.Now().After(deadline) {
			s.Kill()
			return fmt.Errorf("redis-server did not answer PING on %s within %v", s.Socket, StartTimeout)
		}
		time.Sleep(10 * time.Millisecond) // polling with a deadline
	}
}

// ready reports whether the server on socket answers PING (NOAUTH counts:
// it is up and asks for the password).
func ready(socket string) bool {
	c, err := net.DialTimeout("unix", socket, time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("*1\r\n$4\r\nPING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return false
	}
	return strings.HasPrefix(line, "+PONG") || strings.HasPrefix(line, "-NOAUTH")
}

// Kill kills the server with SIGKILL, as a crash would, and waits until it
// is gone.
func (s *Server) Kill() {
	s.t.Helper()
	if s.cmd == nil {
		return
	}
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil && !errors.Is(err, os.ErrProcessDone) {
		s.t.Errorf("killing redis-server: %v", err)
	}
	<-s.exited
	s.cmd = nil
}

// Restart starts the server again with the same socket, port, password and
// directory. Kill it first to simulate a crash.
func (s *Server) Restart() {
	s.t.Helper()
	if s.cmd != nil {
		s.Kill()
	}
	if err := s.start(); err != nil {
		s.t.Fatalf("restarting redis-server: %v\n%s", err, s.logTail())
	}
}

// Pause stops the server with SIGSTOP, as a machine that stalls would: it
// keeps its connections and data, and answers nothing until Resume.
func (s *Server) Pause() {
	s.t.Helper()
	s.signal(syscall.SIGSTOP, "pausing")
}

// Resume continues a server stopped by Pause (SIGCONT).
func (s *Server) Resume() {
	s.t.Helper()
	s.signal(syscall.SIGCONT, "resuming")
}

func (s *Server) signal(sig syscall.Signal, what string) {
	s.t.Helper()
	if !s.Running() {
		s.t.Errorf("%s redis-server: it is not running", what)
		return
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Errorf("%s redis-server: %v", what, err)
	}
}

// Running reports whether the server process is alive.
func (s *Server) Running() bool {
	if s.cmd == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// PID returns the server's process id, 0 when it is not running.
func (s *Server) PID() int {
	if !s.Running() {
		return 0
	}
	return s.cmd.Process.Pid
}

func (s *Server) stop() {
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.exited
	s.cmd = nil
}

// logTail returns the end of the server's log, for failure messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	if err != nil {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
