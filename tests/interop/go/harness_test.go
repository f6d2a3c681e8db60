// Test harness for the nats.go interop suite: starts ferryd (or nats-server, to check that a
// test itself is right) on a free loopback port and makes sure it is stopped again.
//
//	FERRYD        the ferryd binary (default: build/bin/ferryd of this repository)
//	FERRY_SERVER  "nats-server" (or any path to it) runs the suite against nats-server instead
//	FERRY_CERTS   directory for the TLS material from ../make_certs.sh (default: a temp dir)
//
// Processes are never leaked: every server is stopped by t.Cleanup (SIGTERM, then SIGKILL after
// a timeout), TestMain SIGKILLs whatever is still alive when the tests end or the process gets
// SIGINT/SIGTERM/SIGHUP, and each server is started with PR_SET_PDEATHSIG=SIGKILL, so it dies
// with the test binary even when the binary is killed outright (or a test timeout panics).
package ferry_interop

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

var (
	liveMu sync.Mutex
	live   = map[*exec.Cmd]struct{}{}
)

func killAll() {
	liveMu.Lock()
	defer liveMu.Unlock()
	for c := range live {
		_ = c.Process.Kill()
	}
}

func TestMain(m *testing.M) {
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sigs
		killAll()
		os.Exit(128 + int(s.(syscall.Signal)))
	}()
	fmt.Fprintf(os.Stderr, "interop: server under test: %s (%s)\n", serverKind(), serverBin())
	code := m.Run()
	killAll()
	if certsTemp != "" {
		os.RemoveAll(certsTemp)
	}
	os.Exit(code)
}

// serverKind is "ferryd" or "nats-server".
func serverKind() string {
	if os.Getenv("FERRY_SERVER") != "" {
		return "nats-server"
	}
	return "ferryd"
}

func isNatsServer() bool { return serverKind() == "nats-server" }

// repoRoot is the repository root: this package lives in tests/interop/go (possibly reached
// through the GOPATH symlink that run.sh makes, hence EvalSymlinks).
func repoRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return "."
	}
	if r, err := filepath.EvalSymlinks(wd); err == nil {
		wd = r
	}
	return filepath.Clean(filepath.Join(wd, "..", "..", ".."))
}

func serverBin() string {
	if s := os.Getenv("FERRY_SERVER"); s != "" {
		return s
	}
	if s := os.Getenv("FERRYD"); s != "" {
		return s
	}
	return filepath.Join(repoRoot(), "build", "bin", "ferryd")
}

var (
	certsOnce sync.Once
	certsDir  string
	certsTemp string
	certsErr  error
)

// certs returns the directory holding ca.pem, server*.pem, client*.pem, rogue*.pem.
func certs(t *testing.T) string {
	t.Helper()
	certsOnce.Do(func() {
		dir := os.Getenv("FERRY_CERTS")
		if dir == "" {
			dir, certsErr = os.MkdirTemp("", "ferry-go-certs-")
			if certsErr != nil {
				return
			}
			certsTemp = dir
		}
		script := filepath.Join(repoRoot(), "tests", "interop", "make_certs.sh")
		out, err := exec.Command("bash", script, dir).CombinedOutput()
		if err != nil {
			certsErr = fmt.Errorf("%s %s: %v\n%s", script, dir, err, out)
			return
		}
		certsDir = dir
	})
	if certsErr != nil {
		t.Fatalf("cannot make TLS material: %v", certsErr)
	}
	return certsDir
}

func certFile(t *testing.T, name string) string {
	return filepath.Join(certs(t), name)
}

// freePort binds port 0 on loopback, reads the port and closes.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// lockedBuffer keeps the server's output for failure reports.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.buf.Len() > 256<<10 {
		tail := append([]byte(nil), b.buf.Bytes()[b.buf.Len()-64<<10:]...)
		b.buf.Reset()
		b.buf.Write(tail)
	}
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// Opts says how to start a server.
type Opts struct {
	Args   []string // extra flags, e.g. {"--auth", "s3cr3t"}
	Config string   // config file text (nats-server syntax); written to t.TempDir(), passed with -c
	Port   int      // 0: a free port
}

// Server is one running ferryd (or nats-server) process.
type Server struct {
	t      *testing.T
	Port   int
	argv   []string
	cmd    *exec.Cmd
	out    *lockedBuffer
	exited chan struct{}
	err    error // the Wait result, valid once exited is closed
}

// StartServer starts a server and registers its stop with t.Cleanup.
func StartServer(t *testing.T, o Opts) *Server {
	t.Helper()
	port := o.Port
	if port == 0 {
		port = freePort(t)
	}
	argv := []string{"-a", "127.0.0.1", "-p", strconv.Itoa(port)}
	if o.Config != "" {
		f := filepath.Join(t.TempDir(), "server.conf")
		if err := os.WriteFile(f, []byte(o.Config), 0o600); err != nil {
			t.Fatal(err)
		}
		argv = append(argv, "-c", f)
	}
	argv = append(argv, o.Args...)
	s := &Server{t: t, Port: port, argv: argv}
	s.start()
	t.Cleanup(func() {
		s.Stop()
		if t.Failed() {
			t.Logf("%s output (%s):\n%s", serverKind(), strings.Join(s.argv, " "), s.out.String())
		}
	})
	return s
}

// Restart starts a new server with the same flags on the same port (the old one must be
// stopped). The new process is stopped by the cleanup registered in StartServer.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

func (s *Server) start() {
	t := s.t
	t.Helper()
	bin := serverBin()
	cmd := exec.Command(bin, s.argv...)
	out := &lockedBuffer{}
	cmd.Stdout = out
	cmd.Stderr = out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("cannot start %s: %v", bin, err)
	}
	liveMu.Lock()
	live[cmd] = struct{}{}
	liveMu.Unlock()
	s.cmd, s.out, s.exited = cmd, out, make(chan struct{})
	exited := s.exited
	go func() {
		s.err = cmd.Wait()
		liveMu.Lock()
		delete(live, cmd)
		liveMu.Unlock()
		close(exited)
	}()

	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-exited:
			t.Fatalf("%s exited before accepting connections (%v): %s %s\n%s",
				serverKind(), s.err, bin, strings.Join(s.argv, " "), out.String())
		default:
		}
		c, err := net.DialTimeout("tcp", s.HostPort(), time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			s.Stop()
			t.Fatalf("%s did not accept connections on %d:\n%s", serverKind(), s.Port, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Stop sends SIGTERM, waits up to 5 s, then SIGKILLs. Safe to call more than once.
func (s *Server) Stop() {
	if s.cmd == nil {
		return
	}
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(5 * time.Second):
		s.t.Errorf("%s did not exit within 5 s of SIGTERM; killing it", serverKind())
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *Server) HostPort() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port)) }
func (s *Server) URL() string      { return "nats://" + s.HostPort() }
func (s *Server) TLSURL() string   { return "tls://" + s.HostPort() }

// jsEnv is a JetStream-enabled server with one connection and its JetStream context.
type jsEnv struct {
	srv *Server
	dir string
	nc  *nats.Conn
	js  nats.JetStreamContext
}

// startJS starts the server with JetStream (-js -sd DIR) on a fresh store directory; restart()
// starts it again on the same port and store.
func startJS(t *testing.T) *jsEnv {
	t.Helper()
	dir := t.TempDir()
	srv := StartServer(t, Opts{Args: []string{"-js", "-sd", dir}})
	e := &jsEnv{srv: srv, dir: dir}
	e.connect(t)
	return e
}

// connect (re)connects nc and js (after a restart the old connection is closed).
func (e *jsEnv) connect(t *testing.T) {
	t.Helper()
	e.nc = Connect(t, e.srv.URL())
	js, err := e.nc.JetStream(nats.MaxWait(5 * time.Second))
	if err != nil {
		t.Fatalf("JetStream(): %v", err)
	}
	e.js = js
}

// restart stops the server, starts it again on the same port and store, and reconnects.
func (e *jsEnv) restart(t *testing.T) {
	t.Helper()
	e.nc.Close()
	e.srv.Restart()
	e.connect(t)
}

// Connect connects nats.go to url (fails the test on error) and closes it in t.Cleanup.
// Defaults: no reconnect attempts, unless opts override them.
func Connect(t *testing.T, url string, opts ...nats.Option) *nats.Conn {
	t.Helper()
	all := append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(5 * time.Second)}, opts...)
	nc, err := nats.Connect(url, all...)
	if err != nil {
		t.Fatalf("connect %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// TryConnect is Connect for connections expected to fail; a connection that does open is
// closed at cleanup.
func TryConnect(t *testing.T, url string, opts ...nats.Option) (*nats.Conn, error) {
	t.Helper()
	all := append([]nats.Option{nats.MaxReconnects(0), nats.Timeout(5 * time.Second)}, opts...)
	nc, err := nats.Connect(url, all...)
	if nc != nil {
		t.Cleanup(nc.Close)
	}
	return nc, err
}

// flush fails the test when a Flush (PING/PONG round trip) fails.
func flush(t *testing.T, ncs ...*nats.Conn) {
	t.Helper()
	for _, nc := range ncs {
		if err := nc.FlushTimeout(5 * time.Second); err != nil {
			t.Fatalf("flush: %v", err)
		}
	}
}

// next returns the next message of a sync subscription, failing the test after 5 s.
func next(t *testing.T, sub *nats.Subscription) *nats.Msg {
	t.Helper()
	m, err := sub.NextMsg(5 * time.Second)
	if err != nil {
		t.Fatalf("NextMsg on %q: %v", sub.Subject, err)
	}
	return m
}

// expectNone asserts that a sync subscription has nothing more (call after flushing both the
// publisher and the subscriber, which makes every delivered message pending client-side).
func expectNone(t *testing.T, sub *nats.Subscription) {
	t.Helper()
	if m, err := sub.NextMsg(50 * time.Millisecond); err == nil {
		t.Fatalf("subscription %q got an unexpected message on %q: %q", sub.Subject, m.Subject, m.Data)
	}
}

// RawConn is a plain TCP connection speaking the protocol by hand.
type RawConn struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	Info string // the INFO line, as received
}

func DialRaw(t *testing.T, s *Server) *RawConn {
	t.Helper()
	c, err := net.DialTimeout("tcp", s.HostPort(), 5*time.Second)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &RawConn{t: t, conn: c, r: bufio.NewReader(c)}
	rc.Info = rc.ReadLine()
	if !strings.HasPrefix(rc.Info, "INFO ") {
		t.Fatalf("first line is not INFO: %q", rc.Info)
	}
	return rc
}

func (rc *RawConn) Write(s string) {
	rc.t.Helper()
	_ = rc.conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if _, err := rc.conn.Write([]byte(s)); err != nil {
		rc.t.Fatalf("raw write: %v", err)
	}
}

// ReadLine returns one line including its CRLF, failing the test after 5 s.
func (rc *RawConn) ReadLine() string {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := rc.r.ReadString('\n')
	if err != nil {
		rc.t.Fatalf("raw read: %v (got %q)", err, line)
	}
	return line
}

// ReadUntilClosed reads everything until the server closes the connection (EOF or reset);
// fails the test if it stays open for 5 s.
func (rc *RawConn) ReadUntilClosed() (string, error) {
	rc.t.Helper()
	_ = rc.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var all bytes.Buffer
	buf := make([]byte, 4096)
	for {
		n, err := rc.r.Read(buf)
		all.Write(buf[:n])
		if err != nil {
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				rc.t.Fatalf("the server did not close the connection within 5 s; read %q", all.String())
			}
			return all.String(), err
		}
	}
}

// within fails the test if ch does not deliver within d.
func within[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("timed out after %v waiting for %s", d, what)
	}
	var zero T
	return zero
}
