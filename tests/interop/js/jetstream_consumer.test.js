// nats.js JetStream consumers against a server started with `-js -sd <tmpdir>`: durable pull
// (fetch with a batch, expires, no_wait), push durable with a deliver subject and a queue group,
// ephemeral push, acks (explicit, nak, nak with delay, term, working), redelivery after ack_wait,
// max_deliver, deliver policies, filter subject, ack none / all, max_ack_pending, consumer info,
// ordered and headers-only consumers, and durability across a restart on the same store.
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { StringCodec, AckPolicy, DeliverPolicy, consumerOpts, createInbox, headers, nanos } = require("nats");
const { startJetStream, connectTo, within } = require("./harness");

const sc = StringCodec();
const T = { timeout: 30000 }; // no test may hang the suite
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

async function setup(t) {
  const srv = await startJetStream(t);
  const nc = await connectTo(t, srv);
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  return { srv, nc, jsm, js };
}

/** Publishes n messages "1".."n" (or mk(i)) to subj. */
async function publishN(js, subj, n, mk = (i) => String(i)) {
  for (let i = 1; i <= n; i++) await js.publish(typeof subj === "function" ? subj(i) : subj, sc.encode(mk(i)));
}

/** A durable pull consumer and its nats.js handle. */
async function pullConsumer(jsm, js, stream, cfg) {
  await jsm.consumers.add(stream, { ack_policy: AckPolicy.Explicit, ...cfg });
  return js.consumers.get(stream, cfg.durable_name);
}

/** Fetches until n messages came (or the time is up); fails on more or fewer. */
async function fetchN(c, n, ms = 3000) {
  const out = [];
  const deadline = Date.now() + ms;
  while (out.length < n && Date.now() < deadline) {
    const iter = await c.fetch({ max_messages: n - out.length, expires: Math.max(deadline - Date.now(), 1000) });
    for await (const m of iter) out.push(m);
  }
  assert.equal(out.length, n, `fetched ${out.length} messages, want ${n}`);
  return out;
}

/**
 * Asserts that a pull of one message gets nothing: with no_wait when ms is 0, else with an
 * expiry of ms (the legacy fetch: nats.js's Consumer.fetch() wants expires >= 1 s).
 */
async function fetchNone(js, stream, durable, ms) {
  const opts = ms > 0 ? { batch: 1, expires: ms } : { batch: 1, no_wait: true };
  const got = [];
  for await (const m of js.fetch(stream, durable, opts)) got.push(`${sc.decode(m.data)}@${m.seq}`);
  assert.deepEqual(got, [], `${durable} wanted nothing`);
}

const datas = (msgs) => msgs.map((m) => sc.decode(m.data));

test("pull consumer: fetch batch, expires, no_wait, metadata, consumer info, list, delete", T, async (t) => {
  const { jsm, js } = await setup(t);
  await jsm.streams.add({ name: "PULL", subjects: ["pull.>"] });
  const c = await pullConsumer(jsm, js, "PULL", { durable_name: "D" });

  // Empty: no_wait gets 404 at once; next() and an expiring fetch get nothing.
  await assert.rejects(js.pull("PULL", "D"), (err) => err.code === "404");
  const noWait = [];
  for await (const m of js.fetch("PULL", "D", { batch: 5, no_wait: true })) noWait.push(m);
  assert.equal(noWait.length, 0);
  const start = Date.now();
  assert.equal(await c.next({ expires: 1000 }), null);
  const took = Date.now() - start;
  assert.ok(took >= 900 && took < 4000, `an empty next() with a 1 s expiry took ${took} ms`);

  await publishN(js, (i) => `pull.${i}`, 10);
  const msgs = await fetchN(c, 4);
  assert.deepEqual(datas(msgs), ["1", "2", "3", "4"]);
  const info4 = msgs[3].info;
  assert.deepEqual(
    [info4.stream, info4.consumer, info4.streamSequence, info4.deliverySequence, info4.redeliveryCount, info4.pending],
    ["PULL", "D", 4, 4, 1, 6],
  );
  assert.equal(msgs[0].subject, "pull.1");
  let ci = await c.info();
  assert.deepEqual(
    [ci.num_ack_pending, ci.num_pending, ci.delivered.stream_seq, ci.delivered.consumer_seq, ci.ack_floor.stream_seq],
    [4, 6, 4, 4, 0],
  );
  for (const m of msgs) assert.equal(await m.ackAck(), true);
  ci = await c.info();
  assert.deepEqual([ci.num_ack_pending, ci.ack_floor.stream_seq, ci.num_pending], [0, 4, 6]);

  // One message with the legacy no_wait pull; the rest with a batch larger than what is left.
  const one = await js.pull("PULL", "D");
  assert.equal(sc.decode(one.data), "5");
  one.ack();
  const rest = await fetchN(c, 5);
  assert.deepEqual(datas(rest), ["6", "7", "8", "9", "10"]);
  for (const m of rest) m.ack();
  await fetchNone(js, "PULL", "D", 0);

  await jsm.consumers.add("PULL", { durable_name: "E", ack_policy: AckPolicy.Explicit });
  assert.deepEqual((await jsm.consumers.list("PULL").next()).map((x) => x.name).sort(), ["D", "E"]);
  assert.equal(await jsm.consumers.delete("PULL", "E"), true);
  await assert.rejects(jsm.consumers.info("PULL", "E"), (err) => err.api_error?.err_code === 10014);
  assert.equal((await jsm.streams.info("PULL")).state.consumer_count, 1);
});

test("pull consumer: consume() keeps pulling through 500 messages, in order, with acks", T, async (t) => {
  const { jsm, js } = await setup(t);
  await jsm.streams.add({ name: "CONS", subjects: ["cons"] });
  const c = await pullConsumer(jsm, js, "CONS", { durable_name: "D" });
  const acks = [];
  for (let i = 1; i <= 500; i++) acks.push(js.publish("cons", sc.encode(String(i))));
  assert.deepEqual(
    (await Promise.all(acks)).map((pa) => pa.seq),
    Array.from({ length: 500 }, (_, i) => i + 1),
  );
  const iter = await c.consume({ max_messages: 20 });
  let n = 0;
  await within(
    (async () => {
      for await (const m of iter) {
        assert.deepEqual([m.seq, sc.decode(m.data), m.info.deliverySequence], [n + 1, String(n + 1), n + 1]);
        m.ack();
        if (++n === 500) break;
      }
    })(),
    20000,
    "consuming 500 messages",
  );
  let ci = await c.info();
  for (let i = 0; i < 50 && ci.num_ack_pending > 0; i++) ci = await c.info();
  assert.deepEqual([ci.num_ack_pending, ci.ack_floor.stream_seq, ci.num_pending], [0, 500, 0]);
});

test("acks: nak, nak with delay, term, working; redelivery after ack_wait; max_deliver", T, async (t) => {
  const { jsm, js, nc } = await setup(t);
  await jsm.streams.add({ name: "ACK", subjects: ["ack", "rd"] });
  const c = await pullConsumer(jsm, js, "ACK", { durable_name: "A", ack_wait: nanos(800), filter_subject: "ack" });
  await publishN(js, "ack", 4);
  const msgs = await fetchN(c, 4);
  msgs[0].nak(); // back at once
  msgs[1].term(); // never again
  assert.equal(await msgs[2].ackAck(), true);
  msgs[3].nak(2000); // back after 2 s
  const again = (await fetchN(c, 1))[0];
  assert.deepEqual([sc.decode(again.data), again.info.redeliveryCount, again.redelivered], ["1", 2, true]);
  let ci = await c.info();
  assert.deepEqual([ci.num_ack_pending, ci.num_redelivered], [2, 1]);
  for (let i = 0; i < 3; i++) {
    await delay(400);
    again.working(); // keeps it past its 800 ms ack wait
  }
  await fetchNone(js, "ACK", "A", 0); // 4 is still delayed, 1 in progress
  again.ack();
  const delayed = (await fetchN(c, 1, 3000))[0];
  assert.deepEqual([sc.decode(delayed.data), delayed.info.redeliveryCount], ["4", 2]);
  delayed.ack();
  await fetchNone(js, "ACK", "A", 1200); // 2 was terminated
  ci = await c.info();
  assert.deepEqual([ci.num_ack_pending, ci.num_redelivered, ci.num_pending, ci.ack_floor.stream_seq], [0, 0, 0, 4]);

  // Unacked messages come back after ack_wait until max_deliver; then an advisory.
  const rd = await pullConsumer(jsm, js, "ACK", {
    durable_name: "R",
    ack_wait: nanos(300),
    max_deliver: 3,
    filter_subject: "rd",
  });
  const adv = nc.subscribe("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ACK.R", { max: 1 });
  await nc.flush();
  await js.publish("rd", sc.encode("x"));
  for (let n = 1; n <= 3; n++) {
    const m = (await fetchN(rd, 1))[0];
    assert.deepEqual([m.info.redeliveryCount, m.seq], [n, 5]);
  }
  await fetchNone(js, "ACK", "R", 900);
  const [a] = await within(
    (async () => {
      const out = [];
      for await (const m of adv) out.push(JSON.parse(sc.decode(m.data)));
      return out;
    })(),
    5000,
    "the max deliveries advisory",
  );
  assert.deepEqual([a.stream, a.consumer, a.stream_seq, a.deliveries], ["ACK", "R", 5, 3]);
});

test("push: ephemeral subscribe, durable with a deliver subject and a queue group", T, async (t) => {
  const { jsm, js, nc } = await setup(t);
  await jsm.streams.add({ name: "PUSH", subjects: ["push.*"] });
  await publishN(js, "push.a", 3);

  // Ephemeral push consumer made by the client.
  const eo = consumerOpts();
  eo.deliverTo(createInbox());
  eo.ackExplicit();
  eo.manualAck();
  const eph = await js.subscribe("push.a", eo);
  const got = [];
  for await (const m of eph) {
    got.push(`${sc.decode(m.data)}/${m.info.streamSequence}`);
    m.ack();
    if (got.length === 3) break;
  }
  assert.deepEqual(got, ["1/1", "2/2", "3/3"]);

  // Durable push with a queue group: every message to exactly one member, both members used.
  const n = 60;
  const seen = new Map();
  const members = { m1: 0, m2: 0 };
  let done;
  const all = new Promise((r) => (done = r));
  const subs = [];
  for (const name of ["m1", "m2"]) {
    const o = consumerOpts();
    o.durable("QD");
    o.deliverTo("deliver.qd");
    o.queue("workers");
    o.ackExplicit();
    o.manualAck();
    o.callback((err, m) => {
      if (err || !m) return;
      const d = sc.decode(m.data);
      seen.set(d, (seen.get(d) || 0) + 1);
      members[name]++;
      m.ack();
      if ([...seen.values()].reduce((a, b) => a + b, 0) === n) done();
    });
    subs.push(await js.subscribe("push.q", o));
  }
  const ci0 = await jsm.consumers.info("PUSH", "QD");
  assert.deepEqual([ci0.config.deliver_group, ci0.config.deliver_subject], ["workers", "deliver.qd"]);
  for (let i = 0; i < n; i++) await js.publish("push.q", sc.encode(String(i)));
  await within(all, 5000, `${n} queue deliveries`);
  await delay(200);
  await nc.flush();
  assert.equal(seen.size, n);
  assert.ok([...seen.values()].every((v) => v === 1), "a message was delivered twice");
  assert.ok(members.m1 > 0 && members.m2 > 0, `one member got everything: ${JSON.stringify(members)}`);
  const ci = await jsm.consumers.info("PUSH", "QD");
  assert.deepEqual([ci.delivered.stream_seq, ci.delivered.consumer_seq, ci.num_pending], [3 + n, n, 0]);

  // A plain core subscription on a durable's deliver subject gets the messages with ack replies.
  await jsm.consumers.add("PUSH", {
    durable_name: "PD",
    deliver_subject: "deliver.pd",
    ack_policy: AckPolicy.Explicit,
    filter_subject: "push.a",
  });
  const core = nc.subscribe("deliver.pd", { max: 3 });
  const replies = [];
  for await (const m of core) {
    replies.push(`${m.subject} ${m.reply.startsWith("$JS.ACK.PUSH.PD.1.")}`);
    m.respond();
  }
  assert.deepEqual(replies, ["push.a true", "push.a true", "push.a true"]);
  // Pulling from a push consumer: 409.
  await assert.rejects(js.pull("PUSH", "PD"), (err) => err.code === "409");
});

test("deliver policies, filter subject, ack none / all, max_ack_pending", T, async (t) => {
  const { jsm, js } = await setup(t);
  await jsm.streams.add({ name: "DP", subjects: ["dp.*"] });
  for (let i = 1; i <= 3; i++) {
    await js.publish("dp.a", sc.encode(`a${i}`));
    await js.publish("dp.b", sc.encode(`b${i}`));
  }
  await delay(50);
  const cut = new Date().toISOString();
  await delay(50);
  await js.publish("dp.a", sc.encode("a4"));
  await js.publish("dp.c", sc.encode("c1"));
  const cases = [
    ["all", {}, ["a1", "b1", "a2", "b2", "a3", "b3", "a4", "c1"]],
    ["last", { deliver_policy: DeliverPolicy.Last }, ["c1"]],
    ["new", { deliver_policy: DeliverPolicy.New }, []],
    ["seq", { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: 5 }, ["a3", "b3", "a4", "c1"]],
    ["time", { deliver_policy: DeliverPolicy.StartTime, opt_start_time: cut }, ["a4", "c1"]],
    ["lastper", { deliver_policy: DeliverPolicy.LastPerSubject, filter_subject: "dp.*" }, ["b3", "a4", "c1"]],
    ["filter", { filter_subject: "dp.b" }, ["b1", "b2", "b3"]],
    ["filterlast", { filter_subject: "dp.a", deliver_policy: DeliverPolicy.Last }, ["a4"]],
  ];
  for (const [name, cfg, want] of cases) {
    const c = await pullConsumer(jsm, js, "DP", { durable_name: name, ...cfg });
    assert.equal((await c.info()).num_pending, want.length, `${name}: num_pending`);
    const got = want.length ? datas(await fetchN(c, want.length)) : [];
    assert.deepEqual(got, want, name);
    await fetchNone(js, "DP", name, 0);
  }
  await js.publish("dp.b", sc.encode("b4"));
  for (const name of ["new", "filter"]) {
    assert.deepEqual(datas(await fetchN(await js.consumers.get("DP", name), 1)), ["b4"], name);
  }
  await fetchNone(js, "DP", "filterlast", 0);

  // Ack none: nothing pending, no redelivery.
  const none = await pullConsumer(jsm, js, "DP", { durable_name: "none", ack_policy: AckPolicy.None });
  await fetchN(none, 9);
  await fetchNone(js, "DP", "none", 300);
  let ci = await none.info();
  assert.deepEqual([ci.num_ack_pending, ci.ack_floor.stream_seq, ci.num_pending], [0, 9, 0]);
  // Ack all: acking the 5th acknowledges 1..5.
  const all = await pullConsumer(jsm, js, "DP", { durable_name: "ackall", ack_policy: AckPolicy.All });
  const msgs = await fetchN(all, 8);
  assert.equal(await msgs[4].ackAck(), true);
  ci = await all.info();
  assert.deepEqual([ci.num_ack_pending, ci.ack_floor.stream_seq, ci.num_pending], [3, 5, 1]);
  // Max ack pending 3: a fetch of 9 gets 3 until one is acked.
  const map = await pullConsumer(jsm, js, "DP", { durable_name: "map", max_ack_pending: 3 });
  const first = [];
  for await (const m of await map.fetch({ max_messages: 9, expires: 1000 })) first.push(m);
  assert.equal(first.length, 3);
  await fetchNone(js, "DP", "map", 200); // (nats-server 2.9 never answers a no_wait pull here)
  await first[0].ackAck();
  assert.deepEqual(datas(await fetchN(map, 1)), ["b2"]);
  ci = await map.info();
  assert.deepEqual([ci.num_ack_pending, ci.num_pending, ci.config.max_ack_pending], [3, 5, 3]);
});

test("ordered consumer and headers only", T, async (t) => {
  const { jsm, js } = await setup(t);
  await jsm.streams.add({ name: "ORD", subjects: ["ord.>"] });
  for (let i = 0; i < 200; i++) {
    const h = headers();
    h.set("N", String(i));
    await js.publish(`ord.${i % 5}`, sc.encode("x".repeat(i)), { headers: h });
  }
  const oc = await js.consumers.get("ORD");
  const iter = await oc.consume();
  let i = 0;
  await within(
    (async () => {
      for await (const m of iter) {
        if (i === 200) {
          assert.deepEqual([sc.decode(m.data), m.subject, m.seq], ["live", "ord.live", 201]);
          break;
        }
        assert.equal(m.headers.get("N"), String(i));
        assert.equal(m.data.length, i);
        assert.equal(m.seq, i + 1);
        if (++i === 200) await js.publish("ord.live", sc.encode("live"));
      }
    })(),
    10000,
    "200 ordered messages and a live one",
  );

  // Ordered filtered fetch from a start sequence.
  const of = await js.consumers.get("ORD", { filterSubjects: "ord.3", opt_start_seq: 150 });
  const some = [];
  for await (const m of await of.fetch({ max_messages: 5, expires: 2000 })) some.push(m.headers.get("N"));
  assert.deepEqual(some, ["153", "158", "163", "168", "173"]);

  // Headers only: no body, the size in Nats-Msg-Size, the original headers kept.
  const ho = await pullConsumer(jsm, js, "ORD", {
    durable_name: "HO",
    headers_only: true,
    filter_subject: "ord.3",
    deliver_policy: DeliverPolicy.Last,
  });
  const [m] = await fetchN(ho, 1);
  assert.deepEqual([m.data.length, m.headers.get("Nats-Msg-Size"), m.headers.get("N")], [0, "198", "198"]);
});

test("durability: stream and durable consumer survive a restart and resume after the last ack", T, async (t) => {
  const srv = await startJetStream(t);
  let nc = await connectTo(t, srv);
  let jsm = await nc.jetstreamManager();
  let js = nc.jetstream();
  await jsm.streams.add({ name: "DUR", subjects: ["dur.>"] });
  await jsm.streams.add({ name: "DMEM", subjects: ["dmem"], storage: "memory" });
  for (let i = 1; i <= 10; i++) await js.publish("dur.x", sc.encode(String(i)), { msgID: `id${i}` });
  const c = await pullConsumer(jsm, js, "DUR", { durable_name: "C", ack_wait: nanos(1000) });
  const msgs = await fetchN(c, 5);
  for (const m of msgs) assert.equal(await m.ackAck(), true);

  await nc.close();
  await srv.restart();
  nc = await connectTo(t, srv);
  jsm = await nc.jetstreamManager();
  js = nc.jetstream();

  const st = (await jsm.streams.info("DUR")).state;
  assert.deepEqual([st.messages, st.first_seq, st.last_seq, st.consumer_count], [10, 1, 10, 1]);
  const ci = await jsm.consumers.info("DUR", "C");
  assert.deepEqual(
    [ci.ack_floor.stream_seq, ci.delivered.stream_seq, ci.num_pending, ci.num_ack_pending, ci.config.ack_wait],
    [5, 5, 5, 0, 1e9],
  );
  await assert.rejects(jsm.streams.info("DMEM"), (err) => err.api_error?.err_code === 10059);
  const dup = await js.publish("dur.x", sc.encode("dup"), { msgID: "id10" });
  assert.deepEqual([dup.duplicate, dup.seq], [true, 10]);
  const c2 = await js.consumers.get("DUR", "C");
  const after = await fetchN(c2, 5);
  assert.deepEqual(datas(after), ["6", "7", "8", "9", "10"]);
  assert.deepEqual([after[0].info.deliverySequence, after[0].info.redeliveryCount], [6, 1]);
});
