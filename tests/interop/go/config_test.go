// nats.go against servers started with a config file (-c): max_payload and per-user
// publish/subscribe permissions.
package ferry_interop

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestMaxPayload(t *testing.T) {
	s := StartServer(t, Opts{Config: "max_payload: 1024\n"})
	nc := Connect(t, s.URL())
	sub := Connect(t, s.URL())

	if got := nc.MaxPayload(); got != 1024 {
		t.Fatalf("INFO max_payload = %d, want 1024", got)
	}

	ss, err := sub.SubscribeSync("mp.ok")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, sub)
	exact := bytes.Repeat([]byte{7}, 1024)
	if err := nc.Publish("mp.ok", exact); err != nil {
		t.Fatalf("publishing exactly max_payload: %v", err)
	}
	if m := next(t, ss); !bytes.Equal(m.Data, exact) {
		t.Fatalf("1024-byte message corrupted (len %d)", len(m.Data))
	}

	// nats.go refuses more than INFO max_payload client-side (headers count too).
	if err := nc.Publish("mp.big", make([]byte, 1025)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("1025 bytes: %v, want nats.ErrMaxPayload", err)
	}
	hm := nats.NewMsg("mp.big")
	hm.Header.Set("X-Pad", strings.Repeat("p", 40))
	hm.Data = make([]byte, 1000)
	if err := nc.PublishMsg(hm); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("1000 bytes + headers: %v, want nats.ErrMaxPayload", err)
	}
	if nc.IsClosed() {
		t.Fatal("a refused publish closed the connection")
	}
	flush(t, nc)

	// A raw client that ignores the limit: -ERR as soon as the control line is parsed, then
	// close. Only the control line is sent, so no unread payload can turn the close into a
	// reset that would hide the -ERR.
	rc := DialRaw(t, s)
	if !strings.Contains(rc.Info, `"max_payload":1024`) {
		t.Errorf("INFO: %s", rc.Info)
	}
	rc.Write("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
	if got := rc.ReadLine(); got != "PONG\r\n" {
		t.Fatalf("expected PONG, got %q", got)
	}
	rc.Write("PUB mp.big 1025\r\n")
	if got := rc.ReadLine(); got != "-ERR 'Maximum Payload Violation'\r\n" {
		t.Fatalf("oversize PUB: got %q", got)
	}
	if rest, _ := rc.ReadUntilClosed(); rest != "" {
		t.Fatalf("after the -ERR: %q", rest)
	}

	// HPUB: the total size counts.
	rc2 := DialRaw(t, s)
	rc2.Write("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\nPING\r\n")
	if got := rc2.ReadLine(); got != "PONG\r\n" {
		t.Fatalf("expected PONG, got %q", got)
	}
	rc2.Write("HPUB mp.big 12 1030\r\n")
	if got := rc2.ReadLine(); got != "-ERR 'Maximum Payload Violation'\r\n" {
		t.Fatalf("oversize HPUB: got %q", got)
	}
	if rest, _ := rc2.ReadUntilClosed(); rest != "" {
		t.Fatalf("after the -ERR: %q", rest)
	}

	// The other clients are unaffected.
	if err := nc.Publish("mp.ok", []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, ss); string(m.Data) != "still here" {
		t.Fatalf("got %q", m.Data)
	}
}

const permissionsConfig = `
authorization {
  users = [
    {
      user: alice
      password: "a-pass"
      permissions: {
        publish: {
          allow: ["public.>", "secret.>", "_INBOX.>"]
          deny: ["secret.>"]
        }
        subscribe: {
          allow: ["public.>", "forbidden.>", "_INBOX.>"]
          deny: ["forbidden.>"]
        }
      }
    }
    { user: bob, password: "b-pass" }
  ]
}
`

func TestPermissionsViolation(t *testing.T) {
	s := StartServer(t, Opts{Config: permissionsConfig})

	errs := make(chan string, 10)
	alice := Connect(t, s.URL(), nats.UserInfo("alice", "a-pass"),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err.Error() }))
	bob := Connect(t, s.URL(), nats.UserInfo("bob", "b-pass"))

	watch, err := bob.SubscribeSync(">")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, bob)

	// Publish denied by the deny list.
	if err := alice.Publish("secret.x", []byte("leak")); err != nil {
		t.Fatal(err)
	}
	if got := within(t, errs, 5*time.Second, "the async permissions error"); got != `nats: Permissions Violation for Publish to "secret.x"` {
		t.Fatalf("async error %q", got)
	}
	// Publish outside the allow list.
	if err := alice.Publish("other.x", []byte("leak")); err != nil {
		t.Fatal(err)
	}
	if got := within(t, errs, 5*time.Second, "the async permissions error"); got != `nats: Permissions Violation for Publish to "other.x"` {
		t.Fatalf("async error %q", got)
	}
	// Subscribe denied.
	denied, err := alice.SubscribeSync("forbidden.x")
	if err != nil {
		t.Fatal(err)
	}
	if got := within(t, errs, 5*time.Second, "the async permissions error"); got != `nats: Permissions Violation for Subscription to "forbidden.x"` {
		t.Fatalf("async error %q", got)
	}

	// The connection stays usable.
	if !alice.IsConnected() {
		t.Fatal("alice was disconnected by a permissions violation")
	}
	flush(t, alice)
	ok, err := alice.SubscribeSync("public.in")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, alice)
	if err := alice.Publish("public.out", []byte("fine")); err != nil {
		t.Fatal(err)
	}
	flush(t, alice) // public.out is queued to bob before bob publishes below
	_ = bob.Publish("public.in", []byte("to alice"))
	_ = bob.Publish("forbidden.x", []byte("not for alice"))
	flush(t, alice, bob, alice)
	if m := next(t, ok); string(m.Data) != "to alice" {
		t.Fatalf("alice received %q", m.Data)
	}
	expectNone(t, denied)

	// Bob saw only the allowed publish (and his own two, echoed to his '>' subscription).
	var seen []string
	for {
		m, err := watch.NextMsg(50 * time.Millisecond)
		if err != nil {
			break
		}
		seen = append(seen, m.Subject)
	}
	want := []string{"public.out", "public.in", "forbidden.x"}
	if strings.Join(seen, ",") != strings.Join(want, ",") {
		t.Fatalf("bob's '>' subscription saw %q, want %q (a denied publish leaked?)", seen, want)
	}

	// Request/reply works within the permissions (reply via _INBOX.>).
	if _, err := bob.Subscribe("public.svc", func(m *nats.Msg) { _ = m.Respond([]byte("ok")) }); err != nil {
		t.Fatal(err)
	}
	flush(t, bob)
	if r, err := alice.Request("public.svc", nil, 5*time.Second); err != nil || string(r.Data) != "ok" {
		t.Fatalf("alice request: %v", err)
	}

	select {
	case e := <-errs:
		t.Fatalf("unexpected extra async error: %q", e)
	default:
	}
	if !alice.IsConnected() {
		t.Fatal("alice disconnected")
	}
}
