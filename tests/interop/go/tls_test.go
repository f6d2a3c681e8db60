// nats.go against servers started with --tls / --tlsverify.
package ferry_interop

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func tlsArgs(t *testing.T, verify bool) []string {
	args := []string{"--tls", "--tlscert", certFile(t, "server.pem"), "--tlskey", certFile(t, "server-key.pem")}
	if verify {
		args = append(args, "--tlscacert", certFile(t, "ca.pem"), "--tlsverify")
	}
	return args
}

func checkTLSState(t *testing.T, nc *nats.Conn) {
	t.Helper()
	st, err := nc.TLSConnectionState()
	if err != nil {
		t.Fatalf("TLSConnectionState: %v", err)
	}
	if !st.HandshakeComplete || st.Version < tls.VersionTLS12 {
		t.Fatalf("TLS state: handshake %v version %x", st.HandshakeComplete, st.Version)
	}
}

// plaintextRefused: a client that ignores tls_required and speaks plaintext gets no PONG;
// the server closes the connection.
func plaintextRefused(t *testing.T, s *Server, wantVerify bool) {
	t.Helper()
	rc := DialRaw(t, s)
	if !strings.Contains(rc.Info, `"tls_required":true`) {
		t.Errorf("INFO lacks tls_required: %s", rc.Info)
	}
	if got := strings.Contains(rc.Info, `"tls_verify":true`); got != wantVerify {
		t.Errorf("INFO tls_verify %v, want %v: %s", got, wantVerify, rc.Info)
	}
	rc.Write("CONNECT {\"verbose\":false,\"pedantic\":false,\"tls_required\":false}\r\nPING\r\n")
	rest, _ := rc.ReadUntilClosed()
	if strings.Contains(rest, "PONG") || strings.Contains(rest, "+OK") {
		t.Fatalf("plaintext client was served on a TLS port: %q", rest)
	}
}

func TestTLS(t *testing.T) {
	s := StartServer(t, Opts{Args: tlsArgs(t, false)})

	nc := Connect(t, s.TLSURL(), nats.RootCAs(certFile(t, "ca.pem")))
	checkTLSState(t, nc)
	if !nc.TLSRequired() {
		t.Error("INFO does not say tls_required")
	}
	roundTrip(t, nc, "tls.plain")

	// A nats:// URL: nats.go upgrades because INFO says tls_required.
	nc2 := Connect(t, s.URL(), nats.RootCAs(certFile(t, "ca.pem")))
	checkTLSState(t, nc2)
	roundTrip(t, nc2, "tls.upgrade")

	// Messages cross between TLS connections, 1 MiB included.
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	sub, err := nc.SubscribeSync("tls.big")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, nc)
	if err := nc2.Publish("tls.big", big); err != nil {
		t.Fatal(err)
	}
	if m := next(t, sub); string(m.Data) != string(big) {
		t.Fatal("1 MiB message over TLS corrupted")
	}

	// The server certificate is checked against the CA: without it the handshake fails.
	if _, err := TryConnect(t, s.TLSURL()); err == nil {
		t.Fatal("connected without trusting the test CA")
	}

	// The server offers TLS without asking for a client certificate: a client cert is fine too.
	nc3 := Connect(t, s.TLSURL(), nats.RootCAs(certFile(t, "ca.pem")),
		nats.ClientCert(certFile(t, "client.pem"), certFile(t, "client-key.pem")))
	roundTrip(t, nc3, "tls.withcert")

	plaintextRefused(t, s, false)
}

func TestTLSClientCertificates(t *testing.T) {
	s := StartServer(t, Opts{Args: tlsArgs(t, true)})
	ca := nats.RootCAs(certFile(t, "ca.pem"))

	nc := Connect(t, s.TLSURL(), ca, nats.ClientCert(certFile(t, "client.pem"), certFile(t, "client-key.pem")))
	checkTLSState(t, nc)
	roundTrip(t, nc, "mtls.ok")

	start := time.Now()
	if _, err := TryConnect(t, s.TLSURL(), ca); err == nil {
		t.Fatal("connected without a client certificate to a --tlsverify server")
	} else {
		t.Logf("no client certificate: %v", err)
	}
	if _, err := TryConnect(t, s.TLSURL(), ca,
		nats.ClientCert(certFile(t, "rogue.pem"), certFile(t, "rogue-key.pem"))); err == nil {
		t.Fatal("connected with a client certificate from an unknown CA")
	} else {
		t.Logf("rogue client certificate: %v", err)
	}
	if d := time.Since(start); d > 6*time.Second {
		t.Fatalf("refusing the two bad clients took %v", d)
	}

	// The good connection is unaffected by the refused ones.
	roundTrip(t, nc, "mtls.still")

	plaintextRefused(t, s, true)
}
