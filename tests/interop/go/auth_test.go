// nats.go against servers started with --auth or --user/--pass.
package ferry_interop

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

// roundTrip checks that a connection can publish to and receive from itself.
func roundTrip(t *testing.T, nc *nats.Conn, subject string) {
	t.Helper()
	sub, err := nc.SubscribeSync(subject)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(subject, []byte("ping "+subject)); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	if m := next(t, sub); string(m.Data) != "ping "+subject {
		t.Fatalf("round trip on %q: %q", subject, m.Data)
	}
	_ = sub.Unsubscribe()
}

// expectAuthFailure asserts that connecting fails with nats.ErrAuthorization, promptly.
func expectAuthFailure(t *testing.T, what, url string, opts ...nats.Option) {
	t.Helper()
	start := time.Now()
	nc, err := TryConnect(t, url, opts...)
	if err == nil {
		t.Fatalf("%s: connected (status %v), want an authorization failure", what, nc.Status())
	}
	if !errors.Is(err, nats.ErrAuthorization) {
		t.Fatalf("%s: error %q, want nats.ErrAuthorization", what, err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("%s: rejection took %v", what, d)
	}
}

func TestTokenAuth(t *testing.T) {
	s := StartServer(t, Opts{Args: []string{"--auth", "s3cr3t-t0ken"}})

	nc := Connect(t, s.URL(), nats.Token("s3cr3t-t0ken"))
	if !nc.AuthRequired() {
		t.Error("INFO does not say auth_required")
	}
	roundTrip(t, nc, "tok.ok")

	// The token in the URL works as well.
	nc2 := Connect(t, "nats://s3cr3t-t0ken@"+s.HostPort())
	roundTrip(t, nc2, "tok.url")

	expectAuthFailure(t, "wrong token", s.URL(), nats.Token("wrong"))
	expectAuthFailure(t, "no token", s.URL())
	expectAuthFailure(t, "user/password instead of the token", s.URL(), nats.UserInfo("s3cr3t-t0ken", "x"))

	// Raw protocol: a non-CONNECT first op is an authorization violation.
	rc := DialRaw(t, s)
	if !strings.Contains(rc.Info, `"auth_required":true`) {
		t.Errorf("INFO: %s", rc.Info)
	}
	rc.Write("PING\r\n")
	if got := rc.ReadLine(); got != "-ERR 'Authorization Violation'\r\n" {
		t.Fatalf("PING before CONNECT with auth: %q", got)
	}
	if rest, _ := rc.ReadUntilClosed(); rest != "" {
		t.Fatalf("after the -ERR: %q", rest)
	}
}

func TestUserPasswordAuth(t *testing.T) {
	s := StartServer(t, Opts{Args: []string{"--user", "alice", "--pass", "wonder land!"}})

	nc := Connect(t, s.URL(), nats.UserInfo("alice", "wonder land!"))
	if !nc.AuthRequired() {
		t.Error("INFO does not say auth_required")
	}
	roundTrip(t, nc, "up.ok")

	// Credentials in the URL.
	nc2 := Connect(t, "nats://alice:wonder%20land%21@"+s.HostPort())
	roundTrip(t, nc2, "up.url")

	expectAuthFailure(t, "wrong password", s.URL(), nats.UserInfo("alice", "wonderland"))
	expectAuthFailure(t, "wrong user", s.URL(), nats.UserInfo("bob", "wonder land!"))
	expectAuthFailure(t, "no credentials", s.URL())
	expectAuthFailure(t, "token instead of user/password", s.URL(), nats.Token("wonder land!"))

	// With the default reconnect settings a rejected client gives up instead of looping:
	// nats.go only does that when it recognises the error as an authorization violation.
	closed := make(chan struct{})
	nc3, err := nats.Connect(s.URL(), nats.UserInfo("alice", "nope"),
		nats.RetryOnFailedConnect(true), nats.MaxReconnects(5), nats.ReconnectWait(20*time.Millisecond),
		nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	if err != nil {
		t.Fatalf("RetryOnFailedConnect: %v", err)
	}
	defer nc3.Close()
	within(t, closed, 10*time.Second, "nats.go to give up on the rejected credentials")
	if !errors.Is(nc3.LastError(), nats.ErrAuthorization) {
		t.Fatalf("last error %v, want nats.ErrAuthorization", nc3.LastError())
	}
}
