// nats.js reconnects after the server is restarted on the same port, and its subscriptions
// deliver again.
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { Events, StringCodec } = require("nats");
const { startServer, connectTo, within } = require("./harness");

const sc = StringCodec();

/** Resolves with the next status event of the given type. */
async function nextStatus(nc, type) {
  for await (const s of nc.status()) {
    if (s.type === type) return s;
  }
  throw new Error(`status stream ended before a ${type} event`);
}

test("reconnect after a restart on the same port: subscriptions resume", async (t) => {
  const srv = await startServer(t);
  const opts = {
    reconnect: true,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 50,
    reconnectJitter: 0,
    timeout: 1000,
  };
  const nc = await connectTo(t, srv, opts);
  const got = [];
  nc.subscribe("re.events", { callback: (_, m) => got.push(sc.decode(m.data)) });
  nc.subscribe("re.svc", { callback: (_, m) => m.respond(sc.encode(`re:${sc.decode(m.data)}`)) });
  nc.subscribe("re.queue", { queue: "q", callback: (_, m) => got.push(`q:${sc.decode(m.data)}`) });
  await nc.flush();

  const pub = await connectTo(t, srv);
  pub.publish("re.events", sc.encode("before"));
  await pub.flush();
  await nc.flush();
  assert.deepEqual(got, ["before"]);
  await pub.close();

  const firstPid = srv.child.pid;
  const disconnected = within(nextStatus(nc, Events.Disconnect), 5000, "the disconnect event");
  await srv.stop();
  await disconnected;
  const reconnected = within(nextStatus(nc, Events.Reconnect), 10000, "the reconnect event");
  await srv.start();
  assert.notEqual(srv.child.pid, firstPid, "a new server process");
  await reconnected;
  // The PONG comes after the server processed the re-sent SUBs.
  await within(nc.flush(), 5000, "flush after reconnect");

  const pub2 = await connectTo(t, srv);
  pub2.publish("re.events", sc.encode("after"));
  pub2.publish("re.queue", sc.encode("after"));
  await pub2.flush();
  await nc.flush();
  assert.deepEqual(got, ["before", "after", "q:after"]);

  // Request/reply in both directions works on the new server.
  const r = await pub2.request("re.svc", sc.encode("x"), { timeout: 2000 });
  assert.equal(sc.decode(r.data), "re:x");
  const r2 = await nc.request("re.svc", sc.encode("self"), { timeout: 2000 });
  assert.equal(sc.decode(r2.data), "re:self");
});
