// nats.js against servers started with --auth TOKEN and --user U --pass P.
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { connect, ErrorCode, StringCodec } = require("nats");
const { startServer, connectTo, within } = require("./harness");

const sc = StringCodec();

/** The connect must fail with the server's Authorization Violation, not hang or time out. */
async function assertAuthFails(srv, opts, what) {
  const start = Date.now();
  await assert.rejects(
    within(connect({ servers: srv.hostport, timeout: 5000, reconnect: false, ...opts }), 8000, what),
    (err) => {
      assert.equal(err.code, ErrorCode.AuthorizationViolation, `${what}: ${err.code} ${err.message}`);
      assert.equal(err.message, "'Authorization Violation'", `${what}: the -ERR text`);
      return true;
    },
  );
  const took = Date.now() - start;
  assert.ok(took < 3000, `${what}: took ${took} ms`);
}

/** A connection is really usable: a message goes through the server and back. */
async function assertRoundTrip(nc) {
  const s = nc.subscribe("auth.roundtrip", { max: 1 });
  await nc.flush();
  nc.publish("auth.roundtrip", sc.encode("ok"));
  for await (const m of s) assert.equal(sc.decode(m.data), "ok");
  assert.equal(s.getReceived(), 1);
}

test("token auth: right token connects, wrong or missing token fails", async (t) => {
  const srv = await startServer(t, { args: ["--auth", "s3cr3t-t0ken"] });
  const nc = await connectTo(t, srv, { token: "s3cr3t-t0ken" });
  assert.equal(nc.info.auth_required, true, "INFO advertises auth_required");
  await assertRoundTrip(nc);
  await assertAuthFails(srv, { token: "wrong-token" }, "wrong token");
  await assertAuthFails(srv, {}, "missing token");
  await assertAuthFails(srv, { user: "s3cr3t-t0ken", pass: "s3cr3t-t0ken" }, "user/pass instead of token");
  // The good connection is unaffected by the failed ones.
  await assertRoundTrip(nc);
});

test("user/password auth: right credentials connect, wrong ones fail", async (t) => {
  const srv = await startServer(t, { args: ["--user", "alice", "--pass", "w0nderland"] });
  const nc = await connectTo(t, srv, { user: "alice", pass: "w0nderland" });
  assert.equal(nc.info.auth_required, true, "INFO advertises auth_required");
  await assertRoundTrip(nc);
  await assertAuthFails(srv, { user: "alice", pass: "wrong" }, "wrong password");
  await assertAuthFails(srv, { user: "bob", pass: "w0nderland" }, "wrong user");
  await assertAuthFails(srv, { user: "Alice", pass: "w0nderland" }, "user name is case-sensitive");
  await assertAuthFails(srv, {}, "no credentials");
  await assertAuthFails(srv, { token: "w0nderland" }, "token instead of user/pass");
  await assertRoundTrip(nc);
});
