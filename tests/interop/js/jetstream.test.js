// nats.js JetStream (jetstreamManager(), jetstream()) against a server started with
// `-js -sd <tmpdir>`: streams (file and memory), update, info, names/list, delete, purge, get and
// delete message, overlapping subjects, limits, publish acks, dedup and expectations. Consumers
// are in jetstream_consumer.test.js.
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { StringCodec, StorageType, DiscardPolicy, headers } = require("nats");
const { startJetStream, connectTo } = require("./harness");

const sc = StringCodec();
const T = { timeout: 30000 }; // no test may hang the suite

/** A JetStream server, a connection, its manager and client. */
async function setup(t) {
  const srv = await startJetStream(t);
  const nc = await connectTo(t, srv);
  const jsm = await nc.jetstreamManager();
  const js = nc.jetstream();
  return { srv, nc, jsm, js };
}

/** Asserts that p rejects with a JetStream API error with this err_code. */
async function rejectsWithCode(p, errCode, what) {
  await assert.rejects(p, (err) => {
    assert.equal(err.api_error?.err_code, errCode, `${what}: got ${err.message} (${JSON.stringify(err.api_error)})`);
    return true;
  });
}

async function names(lister) {
  const out = [];
  for await (const x of lister) out.push(x);
  return out.sort();
}

test("streams: add (file, memory), update, info, names, list, delete", T, async (t) => {
  const { jsm, js } = await setup(t);
  const si = await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
  assert.equal(si.config.storage, StorageType.File);
  assert.equal(si.config.max_msgs, -1);
  assert.equal(si.config.duplicate_window, 120e9);
  assert.equal(si.config.num_replicas, 1);
  assert.equal(si.state.messages, 0);
  // The same config again is fine; another config under the same name is refused.
  await jsm.streams.add({ name: "ORDERS", subjects: ["orders.>"] });
  await rejectsWithCode(jsm.streams.add({ name: "ORDERS", subjects: ["x.>"] }), 10058, "re-create");

  const mem = await jsm.streams.add({ name: "MEM", subjects: ["mem.*"], storage: StorageType.Memory });
  assert.equal(mem.config.storage, StorageType.Memory);
  for (let i = 0; i < 3; i++) {
    await js.publish("orders.new", sc.encode(`o${i}`));
    await js.publish("mem.x", sc.encode(`m${i}`));
  }
  const info = await jsm.streams.info("ORDERS");
  assert.equal(info.state.messages, 3);
  assert.equal(info.state.first_seq, 1);
  assert.equal(info.state.last_seq, 3);
  assert.ok(info.state.bytes > 0);
  assert.equal((await jsm.streams.info("MEM")).state.messages, 3);

  const up = await jsm.streams.update("ORDERS", { subjects: ["orders.>", "returns.*"], max_msgs: 100 });
  assert.deepEqual(up.config.subjects, ["orders.>", "returns.*"]);
  assert.equal(up.config.max_msgs, 100);
  assert.equal(up.state.messages, 3);
  const pa = await js.publish("returns.1", sc.encode("r"));
  assert.equal(pa.stream, "ORDERS");
  assert.equal(pa.seq, 4);
  await assert.rejects(jsm.streams.update("ORDERS", { storage: StorageType.Memory }), /storage/);

  assert.deepEqual(await names(jsm.streams.names()), ["MEM", "ORDERS"]);
  const listed = [];
  for await (const s of jsm.streams.list()) listed.push(`${s.config.name}:${s.state.messages}`);
  assert.deepEqual(listed.sort(), ["MEM:3", "ORDERS:4"]);
  assert.equal(await jsm.streams.find("returns.9"), "ORDERS");

  assert.equal(await jsm.streams.delete("MEM"), true);
  await rejectsWithCode(jsm.streams.info("MEM"), 10059, "info of a deleted stream");
  await rejectsWithCode(jsm.streams.delete("MEM"), 10059, "second delete");
  assert.deepEqual(await names(jsm.streams.names()), ["ORDERS"]);
  // Without a stream the subject has no responders.
  await assert.rejects(js.publish("mem.x", sc.encode("x")), (err) => err.code === "503");
});

test("streams: overlapping subjects are refused", T, async (t) => {
  const { jsm } = await setup(t);
  await jsm.streams.add({ name: "A", subjects: ["a.>"] });
  for (const subj of ["a.b", "a.*", ">", "a.b.c"]) {
    await rejectsWithCode(jsm.streams.add({ name: "B", subjects: [subj] }), 10065, `overlap with ${subj}`);
  }
  await jsm.streams.add({ name: "B", subjects: ["b.>"] });
  await rejectsWithCode(jsm.streams.update("B", { subjects: ["b.>", "a.x"] }), 10065, "update into an overlap");
});

test("streams: purge all, by subject, keep, up to a sequence", T, async (t) => {
  const { jsm, js } = await setup(t);
  await jsm.streams.add({ name: "P", subjects: ["p.*"] });
  for (let i = 1; i <= 10; i++) await js.publish(i % 2 ? "p.a" : "p.b", sc.encode(String(i)));

  let r = await jsm.streams.purge("P", { keep: 8 });
  assert.deepEqual([r.success, r.purged], [true, 2]);
  let st = (await jsm.streams.info("P")).state;
  assert.deepEqual([st.messages, st.first_seq, st.last_seq], [8, 3, 10]);

  r = await jsm.streams.purge("P", { filter: "p.b" });
  assert.equal(r.purged, 4);
  st = (await jsm.streams.info("P")).state;
  assert.deepEqual([st.messages, st.first_seq], [4, 3]);
  await rejectsWithCode(jsm.streams.getMessage("P", { last_by_subj: "p.b" }), 10037, "last p.b after purge");

  r = await jsm.streams.purge("P", { seq: 7 });
  assert.equal(r.purged, 2);
  st = (await jsm.streams.info("P")).state;
  assert.deepEqual([st.messages, st.first_seq], [2, 7]);

  r = await jsm.streams.purge("P");
  assert.equal(r.purged, 2);
  st = (await jsm.streams.info("P")).state;
  assert.deepEqual([st.messages, st.first_seq, st.last_seq], [0, 11, 10]);
  assert.equal((await js.publish("p.a", sc.encode("after"))).seq, 11);
  await rejectsWithCode(jsm.streams.purge("NOPE"), 10059, "purge of a missing stream");
});

test("streams: get message by sequence and last by subject, direct get, delete message", T, async (t) => {
  const { jsm, js } = await setup(t);
  await jsm.streams.add({ name: "G", subjects: ["g.*"], allow_direct: true });
  for (let i = 1; i <= 4; i++) {
    const h = headers();
    h.set("X-I", String(i));
    await js.publish(`g.${i % 2}`, sc.encode(`v${i}`), { headers: h });
  }
  const m = await jsm.streams.getMessage("G", { seq: 2 });
  assert.equal(m.seq, 2);
  assert.equal(m.subject, "g.0");
  assert.equal(sc.decode(m.data), "v2");
  assert.equal(m.header.get("X-I"), "2");
  assert.ok(Math.abs(Date.now() - m.time.getTime()) < 60000, `time ${m.time}`);
  const last = await jsm.streams.getMessage("G", { last_by_subj: "g.1" });
  assert.deepEqual([last.seq, sc.decode(last.data)], [3, "v3"]);
  await rejectsWithCode(jsm.streams.getMessage("G", { seq: 99 }), 10037, "seq 99");
  await rejectsWithCode(jsm.streams.getMessage("G", { last_by_subj: "g.9" }), 10037, "unused subject");

  // Direct get (allow_direct): the same message with the Nats-* headers.
  const d = await jsm.direct.getMessage("G", { last_by_subj: "g.0" });
  assert.deepEqual([d.seq, d.subject, sc.decode(d.data), d.header.get("X-I")], [4, "g.0", "v4", "4"]);
  const d1 = await jsm.direct.getMessage("G", { seq: 1 });
  assert.equal(sc.decode(d1.data), "v1");
  await assert.rejects(jsm.direct.getMessage("G", { seq: 99 }), (err) => err.code === "404");

  assert.equal(await jsm.streams.deleteMessage("G", 3), true);
  assert.equal(await jsm.streams.deleteMessage("G", 4, false), true);
  await rejectsWithCode(jsm.streams.getMessage("G", { seq: 3 }), 10037, "deleted message");
  await assert.rejects(jsm.streams.deleteMessage("G", 3));
  const st = (await jsm.streams.info("G")).state;
  assert.deepEqual([st.messages, st.last_seq, st.num_deleted], [2, 4, 2]);
});

test("limits: max_msgs with discard old and new, max_msgs_per_subject, max_msg_size", T, async (t) => {
  const { jsm, js } = await setup(t);
  await jsm.streams.add({ name: "OLD", subjects: ["old"], max_msgs: 3 });
  for (let i = 1; i <= 5; i++) await js.publish("old", sc.encode(String(i)));
  let st = (await jsm.streams.info("OLD")).state;
  assert.deepEqual([st.messages, st.first_seq, st.last_seq], [3, 3, 5]);

  await jsm.streams.add({ name: "NEW", subjects: ["new"], max_msgs: 3, discard: DiscardPolicy.New });
  for (let i = 1; i <= 3; i++) await js.publish("new", sc.encode(String(i)));
  await rejectsWithCode(js.publish("new", sc.encode("4")), 10077, "publish past max_msgs, discard new");
  st = (await jsm.streams.info("NEW")).state;
  assert.deepEqual([st.messages, st.last_seq], [3, 3]);

  await jsm.streams.add({ name: "PER", subjects: ["per.*"], max_msgs_per_subject: 2 });
  for (let i = 1; i <= 4; i++) {
    await js.publish("per.a", sc.encode(`a${i}`));
    await js.publish("per.b", sc.encode(`b${i}`));
  }
  st = (await jsm.streams.info("PER")).state;
  assert.deepEqual([st.messages, st.first_seq, st.num_subjects], [4, 5, 2]);
  assert.equal(sc.decode((await jsm.streams.getMessage("PER", { seq: 5 })).data), "a3");

  await jsm.streams.add({ name: "SIZE", subjects: ["size"], max_msg_size: 10 });
  await rejectsWithCode(js.publish("size", sc.encode("0123456789ABC")), 10054, "message over max_msg_size");
});

test("publish: ack contents, dedup by Msg-Id within the window, expectations", T, async (t) => {
  const { jsm, js, nc } = await setup(t);
  await jsm.streams.add({ name: "PUB", subjects: ["pub.*"], duplicate_window: 500e6 });
  await jsm.streams.add({ name: "OTHER", subjects: ["other"] });

  assert.deepEqual({ ...(await js.publish("pub.a", sc.encode("1"))) }, { stream: "PUB", seq: 1, duplicate: false });
  // The raw ack for a plain request.
  const raw = await nc.request("pub.b", sc.encode("2"), { timeout: 5000 });
  assert.deepEqual(JSON.parse(sc.decode(raw.data)), { stream: "PUB", seq: 2 });

  let pa = await js.publish("pub.a", sc.encode("3"), { msgID: "id-1" });
  assert.deepEqual([pa.seq, pa.duplicate], [3, false]);
  pa = await js.publish("pub.a", sc.encode("3 again"), { msgID: "id-1" });
  assert.deepEqual([pa.seq, pa.duplicate], [3, true]);
  assert.equal((await jsm.streams.info("PUB")).state.messages, 3);
  await new Promise((r) => setTimeout(r, 700));
  pa = await js.publish("pub.a", sc.encode("4"), { msgID: "id-1" });
  assert.deepEqual([pa.seq, pa.duplicate], [4, false]);

  await js.publish("pub.a", sc.encode("5"), { expect: { streamName: "PUB" } });
  await rejectsWithCode(js.publish("pub.a", sc.encode("x"), { expect: { streamName: "OTHER" } }), 10060, "stream");
  await js.publish("pub.a", sc.encode("6"), { expect: { lastSequence: 5 } });
  await assert.rejects(js.publish("pub.a", sc.encode("x"), { expect: { lastSequence: 5 } }), (err) => {
    assert.equal(err.api_error?.err_code, 10071);
    assert.match(err.message, /wrong last sequence: 6/);
    return true;
  });
  await js.publish("pub.a", sc.encode("7"), { msgID: "id-7" });
  await js.publish("pub.a", sc.encode("8"), { msgID: "id-8", expect: { lastMsgID: "id-7" } });
  await rejectsWithCode(js.publish("pub.a", sc.encode("x"), { expect: { lastMsgID: "id-7" } }), 10070, "last msg id");
  await js.publish("pub.c", sc.encode("9"), { expect: { lastSubjectSequence: 0 } });
  await rejectsWithCode(
    js.publish("pub.c", sc.encode("x"), { expect: { lastSubjectSequence: 0 } }),
    10071,
    "last subject sequence",
  );
  await js.publish("pub.c", sc.encode("10"), { expect: { lastSubjectSequence: 9 } });
  const st = (await jsm.streams.info("PUB")).state;
  assert.deepEqual([st.messages, st.last_seq], [10, 10]);
  // Expectation headers are stored with the message.
  const m = await jsm.streams.getMessage("PUB", { seq: 10 });
  assert.equal(m.header.get("Nats-Expected-Last-Subject-Sequence"), "9");
});
