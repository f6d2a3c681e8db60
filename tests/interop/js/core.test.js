// nats.js against one server with default options: pub/sub, wildcards, queue groups,
// request/reply, no responders, headers, auto-unsubscribe, flush/drain, 1 MiB, 1,000 subs,
// the default max payload.
"use strict";

const { test, before, after } = require("node:test");
const assert = require("node:assert/strict");
const crypto = require("node:crypto");
const { headers, ErrorCode, StringCodec, Events } = require("nats");
const { startServer, connectTo, within } = require("./harness");

const sc = StringCodec();
let srv;
before(async () => {
  srv = await startServer(null);
});
after(() => srv && srv.dispose());

/** Collects the messages of a subscription until it ends; returns a promise of the array. */
function collect(sub) {
  return (async () => {
    const out = [];
    for await (const m of sub) out.push(m);
    return out;
  })();
}

/** Resolves with the first n messages of sub (and stops the iterator). */
async function take(sub, n) {
  const out = [];
  if (n === 0) return out;
  for await (const m of sub) {
    out.push(m);
    if (out.length === n) break;
  }
  return out;
}

/** The raw header block of a received message, as the server delivered it. */
function rawHeaders(m) {
  assert.ok(m._rdata && m._msg, "nats.js internals changed: cannot read the raw header block");
  return Buffer.from(m._rdata.subarray(0, m._msg.hdr)).toString("latin1");
}

test("pub/sub delivers payload, subject and reply subject between two connections", async (t) => {
  const sub = await connectTo(t, srv);
  const pub = await connectTo(t, srv);
  const s = sub.subscribe("greet.plain");
  await sub.flush();
  pub.publish("greet.plain", sc.encode("hello"));
  pub.publish("greet.plain", sc.encode("again"), { reply: "my.reply.subject" });
  pub.publish("greet.other", sc.encode("not for us"));
  await pub.flush();
  const got = await within(take(s, 2), 5000, "receiving 2 messages");
  assert.deepEqual(
    got.map((m) => [m.subject, sc.decode(m.data), m.reply]),
    [
      ["greet.plain", "hello", ""],
      ["greet.plain", "again", "my.reply.subject"],
    ],
  );
  // Nothing else arrives: a flush round trip after the other publish shows no third message.
  await sub.flush();
  assert.equal(sub.stats().inMsgs, 2);
});

test("wildcards: * matches one token, > one or more trailing tokens", async (t) => {
  const nc = await connectTo(t, srv);
  const pub = await connectTo(t, srv);
  const star = nc.subscribe("wc.*.new");
  const gt = nc.subscribe("wc.>");
  const exact = nc.subscribe("wc.eu.new");
  const starDone = collect(star);
  const gtDone = collect(gt);
  const exactDone = collect(exact);
  await nc.flush();
  for (const subj of ["wc.eu.new", "wc.us.new", "wc.eu.old", "wc.a.b.c", "wc", "wc.new", "other.eu.new"]) {
    pub.publish(subj, sc.encode(subj));
  }
  await pub.flush();
  await nc.flush(); // everything the server routed to nc arrived before this PONG
  star.unsubscribe();
  gt.unsubscribe();
  exact.unsubscribe();
  const subjects = async (p) => (await p).map((m) => m.subject);
  assert.deepEqual(await subjects(starDone), ["wc.eu.new", "wc.us.new"]);
  assert.deepEqual(await subjects(gtDone), ["wc.eu.new", "wc.us.new", "wc.eu.old", "wc.a.b.c", "wc.new"]);
  assert.deepEqual(await subjects(exactDone), ["wc.eu.new"]);
});

test("queue group: each message reaches exactly one member, plain subscriber gets all", async (t) => {
  const N = 200;
  const a = await connectTo(t, srv);
  const b = await connectTo(t, srv);
  const plain = await connectTo(t, srv);
  const pub = await connectTo(t, srv);
  const qa = a.subscribe("work.items", { queue: "workers" });
  const qb = b.subscribe("work.items", { queue: "workers" });
  const p = plain.subscribe("work.items");
  const [qaDone, qbDone, pDone] = [collect(qa), collect(qb), collect(p)];
  await Promise.all([a.flush(), b.flush(), plain.flush()]);
  for (let i = 0; i < N; i++) pub.publish("work.items", sc.encode(String(i)));
  await pub.flush();
  await Promise.all([a.flush(), b.flush(), plain.flush()]);
  qa.unsubscribe();
  qb.unsubscribe();
  p.unsubscribe();
  const ids = async (d) => (await d).map((m) => Number(sc.decode(m.data)));
  const [ga, gb, gp] = await Promise.all([ids(qaDone), ids(qbDone), ids(pDone)]);
  assert.deepEqual(gp, [...Array(N).keys()], "the plain subscriber gets every message in order");
  assert.equal(ga.length + gb.length, N, `members got ${ga.length} + ${gb.length}`);
  const union = new Set([...ga, ...gb]);
  assert.equal(union.size, N, "each message reaches exactly one member (no duplicates, none lost)");
  assert.ok(ga.length > 0 && gb.length > 0, `both members get some (${ga.length}/${gb.length})`);
});

test("request/reply", async (t) => {
  const server = await connectTo(t, srv);
  const client = await connectTo(t, srv);
  const svc = server.subscribe("svc.echo");
  (async () => {
    for await (const m of svc) m.respond(sc.encode(`echo:${sc.decode(m.data)}`));
  })();
  await server.flush();
  for (let i = 0; i < 5; i++) {
    const r = await client.request("svc.echo", sc.encode(`q${i}`), { timeout: 2000 });
    assert.equal(sc.decode(r.data), `echo:q${i}`);
  }
  // Old-style request: a dedicated inbox per request instead of the shared mux inbox.
  const r = await client.request("svc.echo", sc.encode("old"), { timeout: 2000, noMux: true });
  assert.equal(sc.decode(r.data), "echo:old");
});

test("no responders: a request to a subject nobody listens on fails fast with 503", async (t) => {
  const nc = await connectTo(t, srv);
  assert.equal(nc.info.headers, true, "INFO must advertise headers for no_responders");
  for (const noMux of [false, true]) {
    const start = Date.now();
    await assert.rejects(nc.request("nobody.home", sc.encode("?"), { timeout: 5000, noMux }), (err) => {
      assert.equal(err.code, ErrorCode.NoResponders, `noMux=${noMux}: got ${err.code} ${err.message}`);
      return true;
    });
    const took = Date.now() - start;
    assert.ok(took < 2000, `noMux=${noMux}: took ${took} ms, so it was not the 503 that ended it`);
  }
  // The connection is still fine.
  await nc.flush();
  assert.equal(nc.isClosed(), false);
});

test("multi-value headers with case preserved, through pub/sub and request/reply", async (t) => {
  const a = await connectTo(t, srv);
  const b = await connectTo(t, srv);
  const h = headers();
  h.append("X-Multi", "one");
  h.append("X-Multi", "two");
  h.append("x-lower-case", "lc");
  h.append("X-MiXeD-CaSe", "Value With Spaces");
  const sent = h.toString();

  const s = b.subscribe("hdr.pubsub");
  await b.flush();
  a.publish("hdr.pubsub", sc.encode("body"), { headers: h });
  const [m] = await within(take(s, 1), 5000, "receiving the header message");
  assert.equal(sc.decode(m.data), "body");
  assert.equal(rawHeaders(m), sent, "the header block is delivered byte for byte");
  assert.deepEqual(m.headers.values("X-Multi"), ["one", "two"]);
  assert.deepEqual(m.headers.keys(), ["X-Multi", "x-lower-case", "X-MiXeD-CaSe"]);
  assert.equal(m.headers.get("X-MiXeD-CaSe"), "Value With Spaces");

  // Request with headers; the reply carries headers of its own.
  const svc = b.subscribe("hdr.svc");
  (async () => {
    for await (const req of svc) {
      const rh = headers();
      for (const v of req.headers.values("X-Multi")) rh.append("Echo-Multi", v);
      rh.append("Echo-Multi", "three");
      rh.append("reply-lower", req.headers.get("x-lower-case"));
      req.respond(sc.encode(`n=${req.headers.values("X-Multi").length}`), { headers: rh });
    }
  })();
  await b.flush();
  for (const noMux of [false, true]) {
    const r = await a.request("hdr.svc", sc.encode("q"), { headers: h, timeout: 2000, noMux });
    assert.equal(sc.decode(r.data), "n=2");
    assert.deepEqual(r.headers.values("Echo-Multi"), ["one", "two", "three"]);
    assert.deepEqual(r.headers.keys(), ["Echo-Multi", "reply-lower"]);
    assert.equal(r.headers.get("reply-lower"), "lc");
    assert.equal(rawHeaders(r), "NATS/1.0\r\nEcho-Multi: one\r\nEcho-Multi: two\r\nEcho-Multi: three\r\nreply-lower: lc\r\n\r\n");
  }
});

test("unsubscribe with max: exactly 3 of 10 messages are delivered by the server", async (t) => {
  const sub = await connectTo(t, srv);
  const pub = await connectTo(t, srv);
  const s = sub.subscribe("auto.unsub");
  s.unsubscribe(3);
  const done = collect(s);
  await sub.flush();
  for (let i = 0; i < 10; i++) pub.publish("auto.unsub", sc.encode(String(i)));
  await pub.flush();
  await sub.flush();
  const got = await within(done, 5000, "the subscription to end after 3 messages");
  assert.deepEqual(got.map((m) => sc.decode(m.data)), ["0", "1", "2"]);
  assert.equal(s.getReceived(), 3);
  assert.equal(s.isClosed(), true);
  // nats.js also stops at max on its side; inMsgs counts every MSG the server sent this connection.
  assert.equal(sub.stats().inMsgs, 3, "the server sent more than max messages");
  // The unsubscribe is really gone on the server: more publishes do not reach the connection.
  for (let i = 0; i < 5; i++) pub.publish("auto.unsub", sc.encode("late"));
  await pub.flush();
  await sub.flush();
  assert.equal(sub.stats().inMsgs, 3);
});

test("flush: after the publisher's and the subscriber's flush every message has arrived", async (t) => {
  const sub = await connectTo(t, srv);
  const pub = await connectTo(t, srv);
  let n = 0;
  sub.subscribe("flush.test", { callback: () => n++ });
  await sub.flush();
  for (let i = 0; i < 500; i++) pub.publish("flush.test", sc.encode("x"));
  await pub.flush();
  await sub.flush();
  assert.equal(n, 500);
});

test("drain delivers every pending message, then closes the connection", async (t) => {
  const sub = await connectTo(t, srv);
  const pub = await connectTo(t, srv);
  const N = 2000;
  const got = [];
  // All 2 x N messages are routed to sub before drain starts; most are still unread then.
  sub.subscribe("drain.test", { callback: (_, m) => got.push(Number(sc.decode(m.data))) });
  const s2 = sub.subscribe("drain.iter");
  const iterDone = collect(s2);
  await sub.flush();
  for (let i = 0; i < N; i++) {
    pub.publish("drain.test", sc.encode(String(i)));
    pub.publish("drain.iter", sc.encode(String(i)));
  }
  await pub.flush(); // the server has routed all of them to sub before this PONG
  const closed = sub.closed();
  await within(sub.drain(), 10000, "drain");
  assert.equal(sub.isClosed(), true);
  assert.equal(await closed, undefined, "closed without an error");
  assert.deepEqual(got, [...Array(N).keys()]);
  const iter = await iterDone;
  assert.equal(iter.length, N);
  // Publishing on a drained connection is refused by the client.
  assert.throws(() => sub.publish("drain.test"), (e) => e.code === ErrorCode.ConnectionClosed);
});

test("subscription drain: pending messages are delivered, then the subscription ends", async (t) => {
  const sub = await connectTo(t, srv);
  const pub = await connectTo(t, srv);
  const s = sub.subscribe("subdrain.test");
  const done = collect(s);
  await sub.flush();
  for (let i = 0; i < 300; i++) pub.publish("subdrain.test", sc.encode(String(i)));
  await pub.flush();
  await within(s.drain(), 5000, "subscription drain");
  assert.equal((await done).length, 300);
  // The connection stays open and usable.
  await sub.flush();
  assert.equal(sub.isClosed(), false);
});

test("1 MiB messages round trip with content verified", async (t) => {
  const a = await connectTo(t, srv);
  const b = await connectTo(t, srv);
  assert.equal(a.info.max_payload, 1048576, "default max_payload is 1 MiB");
  const svc = b.subscribe("big.echo");
  (async () => {
    for await (const m of svc) m.respond(Buffer.from(m.data).reverse());
  })();
  await b.flush();
  for (let i = 0; i < 3; i++) {
    const payload = crypto.randomBytes(1024 * 1024); // exactly max_payload is allowed
    const r = await a.request("big.echo", payload, { timeout: 5000 });
    assert.equal(r.data.length, payload.length);
    assert.ok(Buffer.from(r.data).equals(Buffer.from(payload).reverse()), "content differs");
  }
  // Plain pub/sub of a 1 MiB message too.
  const s = b.subscribe("big.plain");
  await b.flush();
  const payload = crypto.randomBytes(1024 * 1024);
  a.publish("big.plain", payload);
  const [m] = await within(take(s, 1), 5000, "receiving 1 MiB");
  assert.ok(Buffer.from(m.data).equals(payload), "content differs");
});

test("1,000 subscriptions on one connection each receive their own message", async (t) => {
  const nc = await connectTo(t, srv);
  const pub = await connectTo(t, srv);
  const N = 1000;
  const got = new Array(N).fill(null).map(() => []);
  for (let i = 0; i < N; i++) {
    nc.subscribe(`many.${i}`, { callback: (_, m) => got[i].push(sc.decode(m.data)) });
  }
  await nc.flush();
  for (let i = 0; i < N; i++) pub.publish(`many.${i}`, sc.encode(`payload-${i}`));
  await pub.flush();
  await nc.flush();
  const wrong = got.map((g, i) => [i, g]).filter(([i, g]) => g.length !== 1 || g[0] !== `payload-${i}`);
  assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} subscriptions got the wrong messages`);
  assert.equal(nc.stats().inMsgs, N);
});

test("default max payload: the client refuses more than INFO max_payload, the server closes", async (t) => {
  const nc = await connectTo(t, srv, { reconnect: false });
  const max = nc.info.max_payload;
  assert.equal(max, 1048576);
  assert.throws(
    () => nc.publish("too.big", new Uint8Array(max + 1)),
    (e) => e.code === ErrorCode.MaxPayloadExceeded,
  );
  // The client check uses INFO; lift it to see what the server does with an oversized PUB.
  nc.protocol.info.max_payload = 8 * max;
  const closed = nc.closed();
  const events = [];
  (async () => {
    for await (const s of nc.status()) events.push(s);
  })();
  nc.publish("too.big", new Uint8Array(max + 1));
  const err = await within(closed, 5000, "the server closing the connection");
  assert.ok(err, "closed() resolves with the error that ended the connection");
  // The server sends -ERR 'Maximum Payload Violation' as soon as it has parsed the PUB line and
  // closes without reading the rest of the 1 MiB payload, so the client may see the TCP reset
  // before it reads the -ERR. Either way the server must have closed the connection.
  // (max-payload.test.js checks the exact error with a small limit where no reset happens.)
  if (err.code !== "ECONNRESET") {
    assert.equal(err.code, ErrorCode.ProtocolError, `${err.code} ${err.message}`);
    assert.equal(err.message, "'Maximum Payload Violation'", "the -ERR text, quotes included");
    assert.ok(events.some((e) => e.type === Events.Error && e.data === ErrorCode.ProtocolError));
  }
});
