// nats.js over TLS: server certificate only (--tls), and client certificates required
// (--tlsverify). Certificates come from ../make_certs.sh.
"use strict";

const { test, before } = require("node:test");
const assert = require("node:assert/strict");
const net = require("node:net");
const path = require("node:path");
const { connect, StringCodec } = require("nats");
const { startServer, connectTo, certsDir, within } = require("./harness");

const sc = StringCodec();
let certs;
const cert = (name) => path.join(certs, name);
before(() => {
  certs = certsDir();
});

function tlsArgs(verify) {
  const args = ["--tls", "--tlscert", cert("server.pem"), "--tlskey", cert("server-key.pem")];
  if (verify) args.push("--tlscacert", cert("ca.pem"), "--tlsverify");
  return args;
}

/** A request/reply round trip over the connection (the server routed it both ways). */
async function assertRoundTrip(nc) {
  const svc = nc.subscribe("tls.echo", { max: 1, callback: (_, m) => m.respond(m.data) });
  await nc.flush();
  const payload = sc.encode("over tls ".repeat(1000));
  const r = await nc.request("tls.echo", payload, { timeout: 2000 });
  assert.deepEqual(Buffer.from(r.data), Buffer.from(payload));
  assert.equal(svc.getReceived(), 1);
}

/** Connecting must fail (quickly, not by hanging); returns the error. */
async function connectFails(srv, opts, what) {
  let error;
  await assert.rejects(
    within(connect({ servers: srv.hostport, timeout: 3000, reconnect: false, ...opts }), 6000, what),
    (err) => {
      error = err;
      return true;
    },
  );
  if (process.env.FERRY_JS_DEBUG) console.log(what, "->", error.code, error.message);
  return error;
}

/**
 * The server refused the handshake with a TLS alert (nats-server 2.9.10, Go 1.19, sends
 * bad_certificate both without a certificate and for an unknown CA; other TLS stacks send
 * certificate_required / unknown_ca), or reset the connection; it did not just time out.
 */
function assertTlsRefusal(err) {
  assert.match(String(err.code), /^ERR_SSL_|^ECONNRESET$/, `${err.code} ${err.message}`);
}

/**
 * Speaks plaintext NATS to the port: reads the INFO line, sends CONNECT + PING, and resolves with
 * { info, reply, closed } once the server closes or after ms (reply = whatever came after INFO).
 */
function plaintextConnect(port, ms = 3000) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port });
    let buf = "";
    let info = null;
    const done = (closed) => {
      clearTimeout(timer);
      s.destroy();
      resolve({ info, reply: info ? buf : "", closed });
    };
    const timer = setTimeout(() => done(false), ms);
    s.on("data", (d) => {
      buf += d.toString("latin1");
      if (!info) {
        const i = buf.indexOf("\r\n");
        if (i < 0) return;
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const m = /^INFO\s+(.*)$/.exec(line);
        if (!m) return reject(new Error(`expected INFO, got ${JSON.stringify(line)}`));
        info = JSON.parse(m[1]);
        s.write('CONNECT {"verbose":false,"pedantic":false,"tls_required":false,"lang":"raw","protocol":1}\r\nPING\r\n');
      }
    });
    s.on("close", () => done(true));
    s.on("error", () => {});
  });
}

test("TLS with a server certificate: connects with the CA, plaintext fails", async (t) => {
  const srv = await startServer(t, { args: tlsArgs(false) });
  const nc = await connectTo(t, srv, { tls: { caFile: cert("ca.pem") } });
  assert.equal(nc.info.tls_required, true, "INFO advertises tls_required");
  assert.equal(nc.info.tls_verify, undefined, "no tls_verify without --tlsverify");
  assert.equal(nc.protocol.transport.isEncrypted(), true);
  await assertRoundTrip(nc);

  // A client certificate is not needed but is accepted.
  const withCert = await connectTo(t, srv, {
    tls: { caFile: cert("ca.pem"), certFile: cert("client.pem"), keyFile: cert("client-key.pem") },
  });
  await assertRoundTrip(withCert);

  // Without the CA, the client does not trust the server certificate (the server did present it).
  const untrusted = await connectFails(srv, { tls: {} }, "connect without the CA");
  assert.match(String(untrusted.code || untrusted.message), /SELF_SIGNED|UNABLE_TO|CERT|self.signed|issuer/i);

  // A plaintext CONNECT on the TLS port: the server sends INFO, then closes, never a PONG.
  const r = await plaintextConnect(srv.port);
  assert.equal(r.info.tls_required, true);
  assert.equal(r.closed, true, "the server closes a plaintext connection");
  assert.doesNotMatch(r.reply, /PONG|\+OK/, `a plaintext client got ${JSON.stringify(r.reply)}`);

  await assertRoundTrip(nc);
});

test("TLS with client certificates required (--tlsverify)", async (t) => {
  const srv = await startServer(t, { args: tlsArgs(true) });
  const good = { caFile: cert("ca.pem"), certFile: cert("client.pem"), keyFile: cert("client-key.pem") };
  const nc = await connectTo(t, srv, { tls: good });
  assert.equal(nc.info.tls_required, true, "INFO advertises tls_required");
  assert.equal(nc.info.tls_verify, true, "INFO advertises tls_verify");
  await assertRoundTrip(nc);

  // No client certificate: the server refuses the handshake.
  const noCert = await connectFails(srv, { tls: { caFile: cert("ca.pem") } }, "connect without a client cert");
  assertTlsRefusal(noCert);

  // A client certificate from an unknown CA: refused too.
  const rogue = await connectFails(
    srv,
    { tls: { caFile: cert("ca.pem"), certFile: cert("rogue.pem"), keyFile: cert("rogue-key.pem") } },
    "connect with the rogue cert",
  );
  assertTlsRefusal(rogue);

  // Plaintext is refused as well.
  const r = await plaintextConnect(srv.port);
  assert.equal(r.info.tls_verify, true);
  assert.equal(r.closed, true, "the server closes a plaintext connection");
  assert.doesNotMatch(r.reply, /PONG|\+OK/, `a plaintext client got ${JSON.stringify(r.reply)}`);

  // The good connection is unaffected.
  await assertRoundTrip(nc);
});
