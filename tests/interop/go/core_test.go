// nats.go against a server with default options: core publish/subscribe behaviour.
package ferry_interop

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestPubSub(t *testing.T) {
	s := StartServer(t, Opts{})
	sub := Connect(t, s.URL())
	pub := Connect(t, s.URL())

	if !sub.HeadersSupported() {
		t.Errorf("INFO does not advertise headers")
	}
	if got := sub.MaxPayload(); got != 1<<20 {
		t.Errorf("INFO max_payload = %d, want 1048576", got)
	}

	ss, err := sub.SubscribeSync("ps.foo")
	if err != nil {
		t.Fatal(err)
	}
	other, err := sub.SubscribeSync("ps.bar")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, sub)

	for i := 0; i < 5; i++ {
		if err := pub.Publish("ps.foo", []byte("hello "+strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := pub.PublishRequest("ps.foo", "ps.reply.to", []byte("with reply")); err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish("ps.foo", nil); err != nil { // empty payload
		t.Fatal(err)
	}
	if err := pub.Publish("ps.foo.deeper", []byte("no")); err != nil { // not ps.foo
		t.Fatal(err)
	}
	flush(t, pub, sub)

	for i := 0; i < 5; i++ {
		m := next(t, ss)
		if m.Subject != "ps.foo" || string(m.Data) != "hello "+strconv.Itoa(i) || m.Reply != "" {
			t.Fatalf("message %d: subject %q reply %q data %q", i, m.Subject, m.Reply, m.Data)
		}
	}
	m := next(t, ss)
	if m.Reply != "ps.reply.to" || string(m.Data) != "with reply" {
		t.Fatalf("reply subject: got reply %q data %q", m.Reply, m.Data)
	}
	m = next(t, ss)
	if len(m.Data) != 0 {
		t.Fatalf("empty payload arrived as %q", m.Data)
	}
	expectNone(t, ss)
	expectNone(t, other)

	// Echo: a connection receives its own messages by default, not with NoEcho.
	self, err := pub.SubscribeSync("ps.echo")
	if err != nil {
		t.Fatal(err)
	}
	noEcho := Connect(t, s.URL(), nats.NoEcho())
	neSub, err := noEcho.SubscribeSync("ps.echo")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, pub, noEcho)
	if err := pub.Publish("ps.echo", []byte("from pub")); err != nil {
		t.Fatal(err)
	}
	flush(t, pub)
	if err := noEcho.Publish("ps.echo", []byte("from noecho")); err != nil {
		t.Fatal(err)
	}
	flush(t, pub, noEcho, pub)
	if got := string(next(t, self).Data); got != "from pub" {
		t.Fatalf("echo: %q", got)
	}
	if got := string(next(t, self).Data); got != "from noecho" {
		t.Fatalf("echo: %q", got)
	}
	if got := string(next(t, neSub).Data); got != "from pub" {
		t.Fatalf("noecho sub: %q", got)
	}
	expectNone(t, neSub) // its own message must not come back
}

func TestWildcards(t *testing.T) {
	s := StartServer(t, Opts{})
	nc := Connect(t, s.URL())
	pub := Connect(t, s.URL())

	patterns := []string{"w.*", "w.>", "w.*.c", "*.a", ">", "w.a.*.d"}
	subs := map[string]*nats.Subscription{}
	for _, p := range patterns {
		sub, err := nc.SubscribeSync(p)
		if err != nil {
			t.Fatal(err)
		}
		subs[p] = sub
	}
	flush(t, nc)

	published := []string{"w.a", "w.a.b", "w.a.c", "w", "x.a", "w.b.c", "w.a.b.d", "w.a.b.d.e", "wx.a"}
	for _, subj := range published {
		if err := pub.Publish(subj, []byte(subj)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pub, nc)

	want := map[string][]string{
		"w.*":     {"w.a"},
		"w.>":     {"w.a", "w.a.b", "w.a.c", "w.b.c", "w.a.b.d", "w.a.b.d.e"},
		"w.*.c":   {"w.a.c", "w.b.c"},
		"*.a":     {"w.a", "x.a", "wx.a"},
		">":       published,
		"w.a.*.d": {"w.a.b.d"},
	}
	for _, p := range patterns {
		var got []string
		for {
			m, err := subs[p].NextMsg(50 * time.Millisecond)
			if err != nil {
				break
			}
			if string(m.Data) != m.Subject {
				t.Errorf("%s: subject %q carries %q", p, m.Subject, m.Data)
			}
			got = append(got, m.Subject)
		}
		if !reflect.DeepEqual(got, want[p]) {
			t.Errorf("subscription %q received %q, want %q", p, got, want[p])
		}
	}
}

func TestQueueGroups(t *testing.T) {
	s := StartServer(t, Opts{})
	m1 := Connect(t, s.URL())
	m2 := Connect(t, s.URL())
	plainConn := Connect(t, s.URL())
	pub := Connect(t, s.URL())

	q1, err := m1.QueueSubscribeSync("qg.work", "workers")
	if err != nil {
		t.Fatal(err)
	}
	q2, err := m2.QueueSubscribeSync("qg.work", "workers")
	if err != nil {
		t.Fatal(err)
	}
	plain, err := plainConn.SubscribeSync("qg.work")
	if err != nil {
		t.Fatal(err)
	}
	// A member of another group on the same subject gets every message too.
	other, err := plainConn.QueueSubscribeSync("qg.work", "auditors")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, m1, m2, plainConn)

	const n = 200
	for i := 0; i < n; i++ {
		if err := pub.Publish("qg.work", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pub, m1, m2, plainConn)

	drain := func(sub *nats.Subscription) []int {
		var got []int
		for {
			m, err := sub.NextMsg(50 * time.Millisecond)
			if err != nil {
				return got
			}
			i, err := strconv.Atoi(string(m.Data))
			if err != nil {
				t.Fatalf("bad payload %q", m.Data)
			}
			got = append(got, i)
		}
	}
	g1, g2, gp, go2 := drain(q1), drain(q2), drain(plain), drain(other)

	if len(gp) != n {
		t.Fatalf("plain subscriber got %d of %d messages", len(gp), n)
	}
	for i, v := range gp {
		if v != i {
			t.Fatalf("plain subscriber: message %d is %d (order)", i, v)
		}
	}
	if len(go2) != n {
		t.Fatalf("single member of a second queue group got %d of %d", len(go2), n)
	}
	seen := make([]int, n)
	for _, v := range append(append([]int{}, g1...), g2...) {
		seen[v]++
	}
	for i, c := range seen {
		if c != 1 {
			t.Fatalf("message %d reached %d queue members, want exactly 1 (member 1 got %d, member 2 got %d)",
				i, c, len(g1), len(g2))
		}
	}
	if len(g1) == 0 || len(g2) == 0 {
		t.Fatalf("queue distribution: member 1 got %d, member 2 got %d; both should get some", len(g1), len(g2))
	}
	for _, g := range [][]int{g1, g2} {
		if !sort.IntsAreSorted(g) {
			t.Fatalf("a queue member received messages out of order: %v", g)
		}
	}
	t.Logf("queue split: %d / %d", len(g1), len(g2))
}

func TestRequestReply(t *testing.T) {
	s := StartServer(t, Opts{})
	srv := Connect(t, s.URL())
	cli := Connect(t, s.URL())

	if _, err := srv.Subscribe("rr.upper", func(m *nats.Msg) {
		if !strings.HasPrefix(m.Reply, "_INBOX.") {
			t.Errorf("request arrived with reply subject %q", m.Reply)
		}
		_ = m.Respond([]byte(strings.ToUpper(string(m.Data))))
	}); err != nil {
		t.Fatal(err)
	}
	// A queue-group responder pair: each request answered once.
	var answered int64
	for i := 0; i < 2; i++ {
		if _, err := srv.QueueSubscribe("rr.q", "svc", func(m *nats.Msg) {
			atomic.AddInt64(&answered, 1)
			_ = m.Respond(m.Data)
		}); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, srv)

	resp, err := cli.Request("rr.upper", []byte("hello"), 5*time.Second)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if string(resp.Data) != "HELLO" {
		t.Fatalf("response %q", resp.Data)
	}

	// Many concurrent requests share nats.go's response multiplexer (_INBOX.<id>.*).
	var wg sync.WaitGroup
	errs := make(chan error, 50)
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf("req-%d", i)
			r, err := cli.Request("rr.upper", []byte(body), 5*time.Second)
			if err != nil {
				errs <- err
				return
			}
			if string(r.Data) != strings.ToUpper(body) {
				errs <- fmt.Errorf("request %q answered with %q", body, r.Data)
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}

	for i := 0; i < 20; i++ {
		r, err := cli.Request("rr.q", []byte(strconv.Itoa(i)), 5*time.Second)
		if err != nil {
			t.Fatalf("queue request %d: %v", i, err)
		}
		if string(r.Data) != strconv.Itoa(i) {
			t.Fatalf("queue request %d answered with %q", i, r.Data)
		}
	}
	flush(t, srv)
	if got := atomic.LoadInt64(&answered); got != 20 {
		t.Fatalf("20 requests to a 2-member queue group were answered %d times", got)
	}

	// Old-style request (unique inbox per request, explicit subscription).
	inbox := nats.NewInbox()
	rs, err := cli.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := cli.PublishRequest("rr.upper", inbox, []byte("old style")); err != nil {
		t.Fatal(err)
	}
	if m := next(t, rs); string(m.Data) != "OLD STYLE" {
		t.Fatalf("old-style response %q", m.Data)
	}
}

func TestNoResponders(t *testing.T) {
	s := StartServer(t, Opts{})
	nc := Connect(t, s.URL())

	start := time.Now()
	_, err := nc.Request("nr.nobody", []byte("anyone?"), 5*time.Second)
	elapsed := time.Since(start)
	if !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request with no subscriber: got %v, want nats.ErrNoResponders", err)
	}
	if elapsed > time.Second {
		t.Fatalf("no-responders answer took %v; the server must answer at once", elapsed)
	}

	// Same through RequestMsg with headers, and the old-style inbox.
	msg := nats.NewMsg("nr.nobody")
	msg.Header.Set("X-Test", "1")
	if _, err := nc.RequestMsg(msg, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("RequestMsg: got %v, want nats.ErrNoResponders", err)
	}
	// A plain subscription on the reply subject gets the 503 status message, which nats.go
	// turns into ErrNoResponders.
	inbox := nats.NewInbox()
	rs, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := nc.PublishRequest("nr.nobody", inbox, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := rs.NextMsg(5 * time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("subscription on the reply subject: %v, want nats.ErrNoResponders", err)
	}
	// The exact frame on the wire.
	rc := DialRaw(t, s)
	rc.Write("CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true,\"no_responders\":true}\r\n" +
		"SUB raw.inbox 7\r\nPUB nr.nobody raw.inbox 1\r\nx\r\nPING\r\n")
	var got string
	for _, want := range []string{"HMSG raw.inbox 7 16 16\r\n", "NATS/1.0 503\r\n", "\r\n", "\r\n", "PONG\r\n"} {
		line := rc.ReadLine()
		got += line
		if line != want {
			t.Fatalf("raw no-responders frame: got %q so far, want line %q", got, want)
		}
	}

	// Once a responder exists the same request works.
	if _, err := nc.Subscribe("nr.nobody", func(m *nats.Msg) { _ = m.Respond([]byte("me")) }); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	if r, err := nc.Request("nr.nobody", nil, 5*time.Second); err != nil || string(r.Data) != "me" {
		t.Fatalf("request after subscribing: %v", err)
	}
}

func TestHeaders(t *testing.T) {
	s := StartServer(t, Opts{})
	nc := Connect(t, s.URL())
	pub := Connect(t, s.URL())

	checkHeaders := func(where string, h nats.Header) {
		t.Helper()
		if got := h.Values("X-Multi"); !reflect.DeepEqual(got, []string{"one", "two"}) {
			t.Errorf("%s: X-Multi = %q, want [one two] (header %v)", where, got, h)
		}
		if got := h.Values("MiXeD-CaSe"); !reflect.DeepEqual(got, []string{"Value With Spaces"}) {
			t.Errorf("%s: MiXeD-CaSe = %q (header %v)", where, got, h)
		}
		if _, ok := h["Mixed-Case"]; ok {
			t.Errorf("%s: header name case was not preserved: %v", where, h)
		}
		if _, ok := h["x-multi"]; ok {
			t.Errorf("%s: header name case was not preserved: %v", where, h)
		}
	}
	build := func(subj string) *nats.Msg {
		m := nats.NewMsg(subj)
		m.Header.Add("X-Multi", "one")
		m.Header.Add("X-Multi", "two")
		m.Header.Add("MiXeD-CaSe", "Value With Spaces")
		m.Data = []byte("body")
		return m
	}

	// Pub/sub.
	sub, err := nc.SubscribeSync("hdr.ps")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	if err := pub.PublishMsg(build("hdr.ps")); err != nil {
		t.Fatal(err)
	}
	// A header-only message with an empty body.
	empty := nats.NewMsg("hdr.ps")
	empty.Header.Set("Only", "header")
	if err := pub.PublishMsg(empty); err != nil {
		t.Fatal(err)
	}
	m := next(t, sub)
	if string(m.Data) != "body" {
		t.Fatalf("body %q", m.Data)
	}
	checkHeaders("pub/sub", m.Header)
	m = next(t, sub)
	if m.Header.Get("Only") != "header" || len(m.Data) != 0 {
		t.Fatalf("header-only message: header %v data %q", m.Header, m.Data)
	}

	// Request/reply: the responder sees the headers and answers with its own multi-value ones.
	if _, err := nc.Subscribe("hdr.rr", func(req *nats.Msg) {
		checkHeaders("request", req.Header)
		resp := nats.NewMsg(req.Reply)
		for _, v := range req.Header.Values("X-Multi") {
			resp.Header.Add("X-Echo", v)
		}
		resp.Header.Add("X-Echo", "three")
		resp.Header.Set("Reply-CASE", "kept")
		resp.Data = append([]byte("re: "), req.Data...)
		_ = req.RespondMsg(resp)
	}); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	resp, err := pub.RequestMsg(build("hdr.rr"), 5*time.Second)
	if err != nil {
		t.Fatalf("request: %v", err)
	}
	if got := resp.Header.Values("X-Echo"); !reflect.DeepEqual(got, []string{"one", "two", "three"}) {
		t.Fatalf("response X-Echo = %q (header %v)", got, resp.Header)
	}
	if resp.Header.Get("Reply-CASE") != "kept" || string(resp.Data) != "re: body" {
		t.Fatalf("response header %v data %q", resp.Header, resp.Data)
	}
}

func TestAutoUnsubscribe(t *testing.T) {
	s := StartServer(t, Opts{})
	nc := Connect(t, s.URL()) // only this subscription on this connection
	pub := Connect(t, s.URL())

	sub, err := nc.SubscribeSync("au.x")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.AutoUnsubscribe(3); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	for i := 0; i < 10; i++ {
		if err := pub.Publish("au.x", []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pub, nc)

	for i := 0; i < 3; i++ {
		if m := next(t, sub); string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("message %d: %q", i, m.Data)
		}
	}
	if m, err := sub.NextMsg(100 * time.Millisecond); err == nil {
		t.Fatalf("a 4th message arrived: %q", m.Data)
	}
	// nats.go also drops extra messages itself, so count what the server actually sent: the
	// connection's InMsgs counts every MSG read from the socket.
	if got := nc.Stats().InMsgs; got != 3 {
		t.Fatalf("server delivered %d messages for UNSUB <sid> 3 (want 3)", got)
	}

	// UNSUB with max already reached: immediate unsubscribe.
	sub2, err := nc.SubscribeSync("au.y")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	if err := pub.Publish("au.y", []byte("a")); err != nil {
		t.Fatal(err)
	}
	flush(t, pub, nc)
	next(t, sub2)
	if err := sub2.AutoUnsubscribe(1); err != nil { // 1 already delivered
		t.Fatal(err)
	}
	flush(t, nc)
	for i := 0; i < 5; i++ {
		_ = pub.Publish("au.y", []byte("b"))
	}
	flush(t, pub, nc)
	if got := nc.Stats().InMsgs; got != 4 {
		t.Fatalf("after UNSUB with max <= delivered the server still sent messages: InMsgs %d, want 4", got)
	}
}

func TestFlushAndDrain(t *testing.T) {
	s := StartServer(t, Opts{})
	pub := Connect(t, s.URL())

	// Flush: the PING/PONG round trip works and measures an RTT.
	if err := pub.FlushTimeout(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	if rtt, err := pub.RTT(); err != nil || rtt <= 0 || rtt > 2*time.Second {
		t.Fatalf("RTT: %v %v", rtt, err)
	}

	// Connection drain: every message already sent to the subscriber is processed, then the
	// connection closes.
	closed := make(chan struct{})
	nc := Connect(t, s.URL(), nats.ClosedHandler(func(*nats.Conn) { close(closed) }))
	gate := make(chan struct{})
	var count int64
	if _, err := nc.Subscribe("dr.msgs", func(m *nats.Msg) {
		<-gate // hold the handler so that messages pile up client-side
		atomic.AddInt64(&count, 1)
	}); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	const n = 100
	for i := 0; i < n; i++ {
		_ = pub.Publish("dr.msgs", []byte("x"))
	}
	flush(t, pub, nc)
	if err := nc.Drain(); err != nil {
		t.Fatal(err)
	}
	close(gate)
	within(t, closed, 10*time.Second, "the drained connection to close")
	if got := atomic.LoadInt64(&count); got != n {
		t.Fatalf("drain processed %d of %d messages", got, n)
	}
	if !nc.IsClosed() {
		t.Fatal("connection not closed after Drain")
	}

	// Subscription drain: the server drops the interest (a request then gets no responders).
	svc := Connect(t, s.URL())
	sub, err := svc.Subscribe("dr.svc", func(m *nats.Msg) { _ = m.Respond([]byte("ok")) })
	if err != nil {
		t.Fatal(err)
	}
	flush(t, svc)
	if r, err := pub.Request("dr.svc", nil, 5*time.Second); err != nil || string(r.Data) != "ok" {
		t.Fatalf("request before drain: %v", err)
	}
	if err := sub.Drain(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for sub.IsValid() {
		if time.Now().After(deadline) {
			t.Fatal("subscription still valid 5 s after Drain")
		}
		time.Sleep(10 * time.Millisecond)
	}
	flush(t, svc)
	if _, err := pub.Request("dr.svc", nil, 5*time.Second); !errors.Is(err, nats.ErrNoResponders) {
		t.Fatalf("request after the only subscription drained: %v, want no responders", err)
	}
	if !svc.IsConnected() {
		t.Fatal("draining a subscription must not close the connection")
	}
}

func TestLargeMessage(t *testing.T) {
	s := StartServer(t, Opts{})
	nc := Connect(t, s.URL())
	pub := Connect(t, s.URL())

	payload := make([]byte, 1<<20) // exactly max_payload
	rand.New(rand.NewSource(42)).Read(payload)
	sum := sha256.Sum256(payload)

	sub, err := nc.SubscribeSync("big.ps")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Subscribe("big.echo", func(m *nats.Msg) {
		_ = m.Respond(m.Data)
	}); err != nil {
		t.Fatal(err)
	}
	flush(t, nc)

	for i := 0; i < 3; i++ {
		if err := pub.Publish("big.ps", payload); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		m := next(t, sub)
		if len(m.Data) != len(payload) || sha256.Sum256(m.Data) != sum {
			t.Fatalf("1 MiB message %d corrupted (len %d)", i, len(m.Data))
		}
	}

	// Round trip: 1 MiB request, 1 MiB response, content verified.
	r, err := pub.Request("big.echo", payload, 10*time.Second)
	if err != nil {
		t.Fatalf("1 MiB request: %v", err)
	}
	if !bytes.Equal(r.Data, payload) {
		t.Fatalf("1 MiB round trip corrupted (len %d)", len(r.Data))
	}

	// Headers count towards max_payload: nats.go refuses payload+headers over 1 MiB.
	m := nats.NewMsg("big.ps")
	m.Header.Set("X", "y")
	m.Data = payload
	if err := pub.PublishMsg(m); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("1 MiB + headers: %v, want ErrMaxPayload", err)
	}
}

func TestManySubscriptions(t *testing.T) {
	s := StartServer(t, Opts{})
	nc := Connect(t, s.URL())
	pub := Connect(t, s.URL())

	const n = 1000
	t0 := time.Now()
	subs := make([]*nats.Subscription, n)
	for i := range subs {
		var err error
		if subs[i], err = nc.SubscribeSync(fmt.Sprintf("many.%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, nc)
	t1 := time.Now()
	if got := nc.NumSubscriptions(); got != n {
		t.Fatalf("NumSubscriptions %d", got)
	}
	for i := n - 1; i >= 0; i-- {
		if err := pub.Publish(fmt.Sprintf("many.%d", i), []byte(strconv.Itoa(i))); err != nil {
			t.Fatal(err)
		}
	}
	flush(t, pub, nc)
	t2 := time.Now()
	for i, sub := range subs {
		m := next(t, sub)
		if m.Subject != fmt.Sprintf("many.%d", i) || string(m.Data) != strconv.Itoa(i) {
			t.Fatalf("subscription %d got %q on %q", i, m.Data, m.Subject)
		}
		if p, _, _ := sub.Pending(); p != 0 {
			t.Fatalf("subscription %d has %d more messages", i, p)
		}
	}
	if got := nc.Stats().InMsgs; got != n {
		t.Fatalf("connection received %d messages, want %d", got, n)
	}
	t.Logf("1000 SUBs + flush %v, 1000 PUBs + flush %v", t1.Sub(t0), t2.Sub(t1))
}

func TestReconnectAfterRestart(t *testing.T) {
	s := StartServer(t, Opts{})
	disconnected := make(chan struct{}, 10)
	reconnected := make(chan struct{}, 10)
	nc := Connect(t, s.URL(),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(50*time.Millisecond),
		nats.ReconnectJitter(10*time.Millisecond, 10*time.Millisecond),
		nats.DisconnectErrHandler(func(*nats.Conn, error) { disconnected <- struct{}{} }),
		nats.ReconnectHandler(func(*nats.Conn) { reconnected <- struct{}{} }),
	)
	sub, err := nc.SubscribeSync("re.x")
	if err != nil {
		t.Fatal(err)
	}
	qsub, err := nc.QueueSubscribeSync("re.q", "g")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, nc)

	pub := Connect(t, s.URL())
	_ = pub.Publish("re.x", []byte("before"))
	flush(t, pub, nc)
	if m := next(t, sub); string(m.Data) != "before" {
		t.Fatalf("before restart: %q", m.Data)
	}
	pub.Close()

	s.Stop()
	within(t, disconnected, 5*time.Second, "the disconnect handler")
	s.Restart()
	within(t, reconnected, 10*time.Second, "the reconnect handler")
	if !nc.IsConnected() {
		t.Fatal("not connected after the reconnect handler fired")
	}
	if nc.Stats().Reconnects < 1 {
		t.Fatalf("Reconnects = %d", nc.Stats().Reconnects)
	}
	flush(t, nc) // the re-sent SUBs are processed before this PONG

	pub2 := Connect(t, s.URL())
	_ = pub2.Publish("re.x", []byte("after"))
	_ = pub2.Publish("re.q", []byte("queue after"))
	flush(t, pub2, nc)
	if m := next(t, sub); string(m.Data) != "after" {
		t.Fatalf("after restart: %q", m.Data)
	}
	if m := next(t, qsub); string(m.Data) != "queue after" {
		t.Fatalf("queue subscription after restart: %q", m.Data)
	}
	// The reconnected connection publishes too.
	_ = nc.Publish("re.x", []byte("own"))
	flush(t, nc)
	if m := next(t, sub); string(m.Data) != "own" {
		t.Fatalf("own publish after restart: %q", m.Data)
	}
}

// The default max_payload (1 MiB) is enforced by the server without any config file: a raw
// client that ignores INFO gets -ERR 'Maximum Payload Violation' and is closed; nats.go refuses
// such a message client-side.
func TestMaxPayloadDefault(t *testing.T) {
	s := StartServer(t, Opts{})
	nc := Connect(t, s.URL())
	if err := nc.Publish("mpd.big", make([]byte, 1<<20+1)); !errors.Is(err, nats.ErrMaxPayload) {
		t.Fatalf("1 MiB + 1: %v, want nats.ErrMaxPayload", err)
	}
	flush(t, nc)

	rc := DialRaw(t, s)
	if !strings.Contains(rc.Info, `"max_payload":1048576`) {
		t.Errorf("INFO: %s", rc.Info)
	}
	rc.Write("CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPING\r\n")
	if got := rc.ReadLine(); got != "PONG\r\n" {
		t.Fatalf("expected PONG, got %q", got)
	}
	rc.Write("PUB mpd.big 1048577\r\n") // control line only: the server must not wait for the payload
	if got := rc.ReadLine(); got != "-ERR 'Maximum Payload Violation'\r\n" {
		t.Fatalf("oversize PUB: got %q", got)
	}
	if rest, _ := rc.ReadUntilClosed(); rest != "" {
		t.Fatalf("after the -ERR: %q", rest)
	}
	flush(t, nc) // other connections are unaffected
}
