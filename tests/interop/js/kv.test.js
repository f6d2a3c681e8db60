// nats.js KV views (js.views.kv) against a server started with `-js -sd <tmpdir>`: buckets
// (history, TTL, storage), put/get/update/create/delete/purge, history, keys, watch (initial
// values, then updates and delete markers), status, TTL expiry, destroy, and a restart.
"use strict";

const { test } = require("node:test");
const assert = require("node:assert/strict");
const { StringCodec, KvWatchInclude, StorageType } = require("nats");
const { startJetStream, connectTo } = require("./harness");

const sc = StringCodec();
const T = { timeout: 30000 }; // no test may hang the suite
const delay = (ms) => new Promise((r) => setTimeout(r, ms));

async function setup(t) {
  const srv = await startJetStream(t);
  const nc = await connectTo(t, srv);
  const js = nc.jetstream();
  const jsm = await nc.jetstreamManager();
  return { srv, nc, js, jsm };
}

const show = (e) => (e ? `${e.key}=${sc.decode(e.value)}@${e.revision}/${e.operation}` : "null");

async function all(iterPromise) {
  const out = [];
  for await (const x of await iterPromise) out.push(x);
  return out;
}

/**
 * Reads a watcher's entries in the background (a nats.js iterator can be iterated only once);
 * take(n) resolves with the next n entries, failing after 5 s.
 */
function reader(iter) {
  const queue = [];
  let wake = null;
  (async () => {
    for await (const e of iter) {
      queue.push(show(e));
      if (wake) wake();
    }
  })();
  return {
    async take(n) {
      const deadline = Date.now() + 5000;
      while (queue.length < n) {
        assert.ok(Date.now() < deadline, `wanted ${n} watcher entries, got ${queue.length}: ${queue.join(", ")}`);
        await new Promise((r) => {
          wake = r;
          setTimeout(r, 50);
        });
      }
      return queue.splice(0, n);
    },
    pending: () => queue.slice(),
  };
}

test("kv: put, get, update, create, delete, purge, history, keys, status", T, async (t) => {
  const { js, jsm } = await setup(t);
  const kv = await js.views.kv("CFG", { history: 5 });
  const si = await jsm.streams.info("KV_CFG");
  assert.deepEqual(si.config.subjects, ["$KV.CFG.>"]);
  assert.equal(si.config.max_msgs_per_subject, 5);
  assert.equal(si.config.allow_rollup_hdrs, true);
  assert.equal(si.config.discard, "new");
  assert.equal(si.config.allow_direct, true);

  assert.equal(await kv.put("app.name", sc.encode("ferry")), 1);
  assert.equal(await kv.put("app.port", sc.encode("4222")), 2);
  const e = await kv.get("app.name");
  assert.deepEqual(
    [e.key, e.bucket, sc.decode(e.value), e.revision, e.operation],
    ["app.name", "CFG", "ferry", 1, "PUT"],
  );
  assert.ok(Math.abs(Date.now() - e.created.getTime()) < 60000);
  assert.equal(await kv.get("app.missing"), null);
  assert.equal(await kv.put("app.name", sc.encode("ferry2")), 3);
  assert.equal(show(await kv.get("app.name")), "app.name=ferry2@3/PUT");
  assert.equal(show(await kv.get("app.name", { revision: 1 })), "app.name=ferry@1/PUT");

  await assert.rejects(kv.update("app.name", sc.encode("stale"), 1), (err) => err.api_error?.err_code === 10071);
  assert.equal(await kv.update("app.name", sc.encode("ferry3"), 3), 4);
  await assert.rejects(kv.create("app.port", sc.encode("1")), (err) => err.api_error?.err_code === 10071);
  assert.equal(await kv.create("app.new", sc.encode("n")), 5);

  await kv.delete("app.port");
  const del = await kv.get("app.port");
  assert.equal(del && del.operation, "DEL", `get of a deleted key: ${show(del)}`);
  assert.deepEqual((await all(kv.history({ key: "app.port" }))).map(show), ["app.port=4222@2/PUT", "app.port=@6/DEL"]);
  assert.equal(await kv.create("app.port", sc.encode("5222")), 7); // create over a delete marker
  await assert.rejects(kv.delete("app.port", { previousSeq: 1 }));

  assert.deepEqual(
    (await all(kv.history({ key: "app.name" }))).map((x) => sc.decode(x.value)),
    ["ferry", "ferry2", "ferry3"],
  );
  await kv.purge("app.name");
  assert.deepEqual((await all(kv.history({ key: "app.name" }))).map((x) => x.operation), ["PURGE"]);
  assert.equal((await kv.get("app.name")).operation, "PURGE");

  assert.deepEqual((await all(kv.keys())).sort(), ["app.new", "app.port"]);
  assert.deepEqual((await all(kv.keys("app.*"))).sort(), ["app.new", "app.port"]);
  assert.deepEqual(await all(kv.keys("nothing.*")), []);

  const st = await kv.status();
  // app.port: 2, 6, 7; app.new: 5; app.name: the purge marker 8.
  assert.deepEqual([st.bucket, st.history, st.ttl, st.values, st.backingStore], ["CFG", 5, 0, 5, "file"]);
  assert.ok(st.size > 0);
  await assert.rejects(kv.put("bad key", sc.encode("x")));
});

test("kv: history limit and memory storage", T, async (t) => {
  const { js, jsm } = await setup(t);
  const kv = await js.views.kv("H", { history: 3, storage: StorageType.Memory });
  for (let i = 1; i <= 6; i++) await kv.put("k", sc.encode(String(i)));
  await kv.put("other", sc.encode("x"));
  assert.deepEqual((await all(kv.history({ key: "k" }))).map(show), ["k=4@4/PUT", "k=5@5/PUT", "k=6@6/PUT"]);
  assert.equal(await kv.get("k", { revision: 2 }), null);
  assert.equal((await kv.status()).values, 4);
  assert.equal((await jsm.streams.info("KV_H")).config.storage, StorageType.Memory);
});

test("kv: watch gives initial values, then updates and delete markers", T, async (t) => {
  const { js } = await setup(t);
  const kv = await js.views.kv("W", { history: 10 });
  await kv.put("a.1", sc.encode("x"));
  await kv.put("a.2", sc.encode("y"));
  await kv.put("b.1", sc.encode("z"));
  await kv.put("a.1", sc.encode("x2"));
  await kv.delete("a.2"); // 5

  let initialized = false;
  const wIter = await kv.watch({ initializedFn: () => (initialized = true) });
  const w = reader(wIter);
  assert.deepEqual(await w.take(3), ["b.1=z@3/PUT", "a.1=x2@4/PUT", "a.2=@5/DEL"]);
  for (let i = 0; i < 50 && !initialized; i++) await delay(20);
  assert.ok(initialized, "initializedFn not called after the initial values");

  const waIter = await kv.watch({ key: "a.*", ignoreDeletes: true });
  const wa = reader(waIter);
  assert.deepEqual(await wa.take(1), ["a.1=x2@4/PUT"]);

  await kv.put("a.3", sc.encode("new")); // 6
  await kv.put("b.1", sc.encode("z2")); // 7
  await kv.delete("a.1"); // 8
  await kv.purge("b.1"); // 9
  assert.deepEqual(await w.take(4), ["a.3=new@6/PUT", "b.1=z2@7/PUT", "a.1=@8/DEL", "b.1=@9/PURGE"]);
  assert.deepEqual(await wa.take(1), ["a.3=new@6/PUT"]);
  await kv.put("a.4", sc.encode("last")); // 10
  // Nothing in between for the filtered watcher: not b.*, not the delete of a.1.
  assert.deepEqual(await wa.take(1), ["a.4=last@10/PUT"]);

  const whIter = await kv.watch({ key: "a.1", include: KvWatchInclude.AllHistory });
  assert.deepEqual(await reader(whIter).take(3), ["a.1=x@1/PUT", "a.1=x2@4/PUT", "a.1=@8/DEL"]);
  const wuIter = await kv.watch({ key: "b.1", include: KvWatchInclude.UpdatesOnly });
  const wu = reader(wuIter);
  await kv.put("b.1", sc.encode("z3")); // 11
  assert.deepEqual(await wu.take(1), ["b.1=z3@11/PUT"]);
  await delay(100);
  assert.deepEqual(w.pending(), ["a.4=last@10/PUT", "b.1=z3@11/PUT"]);
  for (const x of [wIter, waIter, whIter, wuIter]) x.stop();
});

test("kv: TTL expiry, bind, destroy", T, async (t) => {
  const { js, jsm } = await setup(t);
  const kv = await js.views.kv("TTL", { ttl: 800 });
  const si = await jsm.streams.info("KV_TTL");
  assert.deepEqual([si.config.max_age, si.config.duplicate_window], [800e6, 800e6]);
  assert.deepEqual([(await kv.status()).ttl, (await kv.status()).history], [800, 1]);
  await kv.put("session", sc.encode("s1"));
  await delay(400);
  await kv.put("late", sc.encode("l1"));
  assert.equal(sc.decode((await kv.get("session")).value), "s1");
  const deadline = Date.now() + 3000;
  while ((await kv.get("session")) !== null) {
    assert.ok(Date.now() < deadline, "value still there 3 s after its TTL");
    await delay(50);
  }
  assert.notEqual(await kv.get("late"), null, "the later key expired with the first");
  await delay(600);
  assert.equal(await kv.get("late"), null);
  assert.deepEqual(await all(kv.keys()), []);

  const bound = await js.views.kv("TTL", { bindOnly: true, allow_direct: true });
  assert.equal((await bound.status()).bucket, "TTL");
  await kv.put("again", sc.encode("a"));
  assert.equal(show(await bound.get("again")), "again=a@3/PUT");
  assert.equal(await kv.destroy(), true);
  await assert.rejects(jsm.streams.info("KV_TTL"), (err) => err.api_error?.err_code === 10059);
  await assert.rejects(bound.status(), (err) => err.api_error?.err_code === 10059);
});

test("kv: values survive a restart", T, async (t) => {
  const srv = await startJetStream(t);
  let nc = await connectTo(t, srv);
  let kv = await nc.jetstream().views.kv("P", { history: 2 });
  await kv.put("k", sc.encode("v1"));
  await kv.put("k", sc.encode("v2"));
  await kv.put("gone", sc.encode("x"));
  await kv.delete("gone");
  await nc.close();
  await srv.restart();
  nc = await connectTo(t, srv);
  kv = await nc.jetstream().views.kv("P", { bindOnly: true });
  assert.equal(show(await kv.get("k")), "k=v2@2/PUT");
  assert.equal((await kv.get("gone")).operation, "DEL");
  assert.equal(await kv.update("k", sc.encode("v3"), 2), 5);
  await assert.rejects(kv.create("k", sc.encode("again")));
});
