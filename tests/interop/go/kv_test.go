// KeyValue through nats.go against ferryd with JetStream: buckets (history, TTL, storage),
// put/get/update/create/delete/purge, history, keys, watchers, status, TTL expiry, and
// deleting a bucket.
package ferry_interop

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func createKV(t *testing.T, e *jsEnv, cfg *nats.KeyValueConfig) nats.KeyValue {
	t.Helper()
	kv, err := e.js.CreateKeyValue(cfg)
	if err != nil {
		t.Fatalf("CreateKeyValue(%s): %v", cfg.Bucket, err)
	}
	return kv
}

func kvPut(t *testing.T, kv nats.KeyValue, key, value string) uint64 {
	t.Helper()
	rev, err := kv.Put(key, []byte(value))
	if err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
	return rev
}

func kvGet(t *testing.T, kv nats.KeyValue, key string) nats.KeyValueEntry {
	t.Helper()
	e, err := kv.Get(key)
	if err != nil {
		t.Fatalf("Get(%s): %v", key, err)
	}
	return e
}

// nextEntry reads one watcher update (nil is the end-of-initial-values marker).
func nextEntry(t *testing.T, w nats.KeyWatcher) nats.KeyValueEntry {
	t.Helper()
	select {
	case e := <-w.Updates():
		return e
	case <-time.After(5 * time.Second):
		t.Fatalf("no watcher update within 5 s")
	}
	return nil
}

func entryString(e nats.KeyValueEntry) string {
	if e == nil {
		return "<nil>"
	}
	return fmt.Sprintf("%s=%s@%d/%s", e.Key(), e.Value(), e.Revision(), e.Operation())
}

func TestKVBasics(t *testing.T) {
	e := startJS(t)
	kv := createKV(t, e, &nats.KeyValueConfig{Bucket: "CFG", History: 5})
	if kv.Bucket() != "CFG" {
		t.Fatalf("bucket %q", kv.Bucket())
	}
	// The backing stream follows the KV conventions.
	si := e.streamInfo(t, "KV_CFG")
	if si.Config.Subjects[0] != "$KV.CFG.>" || si.Config.MaxMsgsPerSubject != 5 || !si.Config.AllowRollup ||
		!si.Config.DenyDelete || si.Config.Discard != nats.DiscardNew || !si.Config.AllowDirect {
		t.Fatalf("backing stream config %+v", si.Config)
	}

	r1 := kvPut(t, kv, "app.name", "ferry")
	r2 := kvPut(t, kv, "app.port", "4222")
	if r1 != 1 || r2 != 2 {
		t.Fatalf("revisions %d %d", r1, r2)
	}
	got := kvGet(t, kv, "app.name")
	if string(got.Value()) != "ferry" || got.Revision() != 1 || got.Key() != "app.name" || got.Bucket() != "CFG" ||
		got.Operation() != nats.KeyValuePut || time.Since(got.Created()) > time.Minute {
		t.Fatalf("Get = %s", entryString(got))
	}
	if _, err := kv.Get("app.missing"); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Fatalf("Get of a missing key: %v", err)
	}
	// Put again: a new revision.
	r3 := kvPut(t, kv, "app.name", "ferry2")
	if r3 != 3 || string(kvGet(t, kv, "app.name").Value()) != "ferry2" {
		t.Fatalf("second put rev %d", r3)
	}
	if old, err := kv.GetRevision("app.name", 1); err != nil || string(old.Value()) != "ferry" {
		t.Fatalf("GetRevision 1: %v %v", entryString(old), err)
	}

	// Update checks the revision.
	if _, err := kv.Update("app.name", []byte("stale"), 1); err == nil {
		t.Fatalf("update with a stale revision succeeded")
	} else if apiCode(err) != 10071 {
		t.Fatalf("stale update error %v", err)
	}
	r4, err := kv.Update("app.name", []byte("ferry3"), 3)
	if err != nil || r4 != 4 {
		t.Fatalf("Update at the current revision: %d %v", r4, err)
	}

	// Create fails when the key exists, works for a new key and after a delete.
	if _, err := kv.Create("app.port", []byte("1")); !errors.Is(err, nats.ErrKeyExists) {
		t.Fatalf("Create of an existing key: %v", err)
	}
	r5, err := kv.Create("app.new", []byte("n"))
	if err != nil || r5 != 5 {
		t.Fatalf("Create of a new key: %d %v", r5, err)
	}

	// Delete leaves a marker; Get says not found; History keeps everything.
	if err := kv.Delete("app.port"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := kv.Get("app.port"); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Fatalf("Get after delete: %v", err)
	}
	hist, err := kv.History("app.port")
	if err != nil || len(hist) != 2 || hist[0].Operation() != nats.KeyValuePut || hist[1].Operation() != nats.KeyValueDelete ||
		hist[1].Revision() != 6 {
		var s []string
		for _, h := range hist {
			s = append(s, entryString(h))
		}
		t.Fatalf("History after delete: %v %v", s, err)
	}
	r7, err := kv.Create("app.port", []byte("5222"))
	if err != nil || r7 != 7 {
		t.Fatalf("Create after delete: %d %v", r7, err)
	}
	// Delete with an expected revision.
	if err := kv.Delete("app.port", nats.LastRevision(1)); err == nil {
		t.Fatalf("Delete with a wrong last revision succeeded")
	}

	hist, err = kv.History("app.name")
	if err != nil || len(hist) != 3 {
		t.Fatalf("History(app.name): %d %v", len(hist), err)
	}
	var vals []string
	for _, h := range hist {
		vals = append(vals, string(h.Value()))
	}
	if strings.Join(vals, ",") != "ferry,ferry2,ferry3" {
		t.Fatalf("history values %v", vals)
	}

	// Purge removes the history and leaves one marker.
	if err := kv.Purge("app.name"); err != nil {
		t.Fatalf("Purge: %v", err)
	}
	hist, err = kv.History("app.name")
	if err != nil || len(hist) != 1 || hist[0].Operation() != nats.KeyValuePurge {
		t.Fatalf("History after purge: %d %v", len(hist), err)
	}
	if _, err := kv.Get("app.name"); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Fatalf("Get after purge: %v", err)
	}

	keys, err := kv.Keys()
	sort.Strings(keys)
	if err != nil || strings.Join(keys, ",") != "app.new,app.port" {
		t.Fatalf("Keys: %v %v", keys, err)
	}

	// PurgeDeletes removes the markers (the purge marker of app.name).
	if err := kv.PurgeDeletes(nats.DeleteMarkersOlderThan(-1)); err != nil {
		t.Fatalf("PurgeDeletes: %v", err)
	}
	if _, err := kv.History("app.name"); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Fatalf("History after PurgeDeletes: %v", err)
	}

	st, err := kv.Status()
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	// Left: app.port (put 2, delete 6, put 7), app.new (5).
	if st.Bucket() != "CFG" || st.History() != 5 || st.TTL() != 0 || st.BackingStore() != "JetStream" || st.Values() != 4 ||
		st.Bytes() == 0 {
		t.Fatalf("Status: bucket %s history %d ttl %v store %s values %d bytes %d",
			st.Bucket(), st.History(), st.TTL(), st.BackingStore(), st.Values(), st.Bytes())
	}

	// Keys and values are validated client side; an invalid key never reaches the server.
	if _, err := kv.Put("bad key", []byte("x")); !errors.Is(err, nats.ErrInvalidKey) {
		t.Fatalf("invalid key: %v", err)
	}
}

func TestKVHistoryLimit(t *testing.T) {
	e := startJS(t)
	kv := createKV(t, e, &nats.KeyValueConfig{Bucket: "H", History: 3, Storage: nats.MemoryStorage})
	for i := 1; i <= 6; i++ {
		kvPut(t, kv, "k", fmt.Sprint(i))
	}
	kvPut(t, kv, "other", "x")
	hist, err := kv.History("k")
	if err != nil || len(hist) != 3 {
		t.Fatalf("history %d %v", len(hist), err)
	}
	for i, h := range hist {
		if string(h.Value()) != fmt.Sprint(4+i) || h.Revision() != uint64(4+i) {
			t.Fatalf("history[%d] = %s", i, entryString(h))
		}
	}
	if _, err := kv.GetRevision("k", 2); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Fatalf("revision beyond history: %v", err)
	}
	st, _ := kv.Status()
	if st.Values() != 4 || st.BackingStore() != "JetStream" {
		t.Fatalf("status values %d", st.Values())
	}
	if si := e.streamInfo(t, "KV_H"); si.Config.Storage != nats.MemoryStorage {
		t.Fatalf("storage %v", si.Config.Storage)
	}
}

func TestKVWatch(t *testing.T) {
	e := startJS(t)
	kv := createKV(t, e, &nats.KeyValueConfig{Bucket: "W", History: 10})
	kvPut(t, kv, "a.1", "x")
	kvPut(t, kv, "a.2", "y")
	kvPut(t, kv, "b.1", "z")
	kvPut(t, kv, "a.1", "x2") // rev 4
	if err := kv.Delete("a.2"); err != nil {
		t.Fatal(err)
	} // rev 5

	// WatchAll: the latest entry of each key (including the delete marker) in revision
	// order, then nil, then live updates.
	w, err := kv.WatchAll()
	if err != nil {
		t.Fatalf("WatchAll: %v", err)
	}
	defer w.Stop()
	var initial []string
	for {
		en := nextEntry(t, w)
		if en == nil {
			break
		}
		initial = append(initial, entryString(en))
	}
	if want := "b.1=z@3/KeyValuePutOp,a.1=x2@4/KeyValuePutOp,a.2=@5/KeyValueDeleteOp"; strings.Join(initial, ",") != want {
		t.Fatalf("initial values %v, want %s", initial, want)
	}

	// A filtered watcher that ignores deletes.
	wa, err := kv.Watch("a.*", nats.IgnoreDeletes())
	if err != nil {
		t.Fatalf("Watch(a.*): %v", err)
	}
	defer wa.Stop()
	if en := nextEntry(t, wa); entryString(en) != "a.1=x2@4/KeyValuePutOp" {
		t.Fatalf("a.* initial %s", entryString(en))
	}
	if en := nextEntry(t, wa); en != nil {
		t.Fatalf("a.* initial marker %s", entryString(en))
	}

	// An empty bucket's watcher gets the marker at once.
	kvEmpty := createKV(t, e, &nats.KeyValueConfig{Bucket: "EMPTY"})
	we, err := kvEmpty.WatchAll()
	if err != nil {
		t.Fatal(err)
	}
	defer we.Stop()
	if en := nextEntry(t, we); en != nil {
		t.Fatalf("empty bucket watcher: %s", entryString(en))
	}

	kvPut(t, kv, "a.3", "new") // 6
	kvPut(t, kv, "b.1", "z2")  // 7
	_ = kv.Delete("a.1")       // 8
	_ = kv.Purge("b.1")        // 9
	var live []string
	for i := 0; i < 4; i++ {
		en := nextEntry(t, w)
		live = append(live, entryString(en))
		if en.Delta() != 0 {
			t.Fatalf("live entry delta %d", en.Delta())
		}
	}
	want := "a.3=new@6/KeyValuePutOp,b.1=z2@7/KeyValuePutOp,a.1=@8/KeyValueDeleteOp,b.1=@9/KeyValuePurgeOp"
	if strings.Join(live, ",") != want {
		t.Fatalf("live updates %v, want %s", live, want)
	}
	if en := nextEntry(t, wa); entryString(en) != "a.3=new@6/KeyValuePutOp" {
		t.Fatalf("a.* live %s", entryString(en))
	}
	select {
	case en := <-wa.Updates():
		t.Fatalf("a.* watcher got %s (deletes and b.* must not show)", entryString(en))
	case <-time.After(200 * time.Millisecond):
	}

	// IncludeHistory replays every revision.
	wh, err := kv.Watch("a.1", nats.IncludeHistory())
	if err != nil {
		t.Fatal(err)
	}
	defer wh.Stop()
	var all []string
	for en := nextEntry(t, wh); en != nil; en = nextEntry(t, wh) {
		all = append(all, entryString(en))
	}
	if want := "a.1=x@1/KeyValuePutOp,a.1=x2@4/KeyValuePutOp,a.1=@8/KeyValueDeleteOp"; strings.Join(all, ",") != want {
		t.Fatalf("history watch %v, want %s", all, want)
	}
}

func TestKVTTLAndDeleteBucket(t *testing.T) {
	e := startJS(t)
	kv := createKV(t, e, &nats.KeyValueConfig{Bucket: "TTL", TTL: 800 * time.Millisecond})
	if si := e.streamInfo(t, "KV_TTL"); si.Config.MaxAge != 800*time.Millisecond || si.Config.Duplicates != 800*time.Millisecond {
		t.Fatalf("TTL bucket stream %+v", si.Config)
	}
	st, _ := kv.Status()
	if st.TTL() != 800*time.Millisecond || st.History() != 1 {
		t.Fatalf("status ttl %v history %d", st.TTL(), st.History())
	}
	kvPut(t, kv, "session", "s1")
	time.Sleep(400 * time.Millisecond)
	kvPut(t, kv, "late", "l1")
	if string(kvGet(t, kv, "session").Value()) != "s1" {
		t.Fatal("value gone before its TTL")
	}
	// "session" expires about 800 ms after its put, "late" 400 ms after that.
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, err := kv.Get("session")
		if errors.Is(err, nats.ErrKeyNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("value still there 3 s after its TTL: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := kv.Get("late"); err != nil {
		t.Fatalf("the later key expired with the first: %v", err)
	}
	time.Sleep(600 * time.Millisecond)
	if _, err := kv.Get("late"); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Fatalf("later key after its TTL: %v", err)
	}
	if keys, err := kv.Keys(); !errors.Is(err, nats.ErrNoKeysFound) {
		t.Fatalf("Keys after expiry: %v %v", keys, err)
	}

	// Bind to an existing bucket; delete it; binding fails afterwards.
	if _, err := e.js.KeyValue("TTL"); err != nil {
		t.Fatalf("KeyValue(TTL): %v", err)
	}
	if err := e.js.DeleteKeyValue("TTL"); err != nil {
		t.Fatalf("DeleteKeyValue: %v", err)
	}
	if _, err := e.js.KeyValue("TTL"); !errors.Is(err, nats.ErrBucketNotFound) {
		t.Fatalf("KeyValue after delete: %v", err)
	}
	if err := e.js.DeleteKeyValue("TTL"); !errors.Is(err, nats.ErrStreamNotFound) {
		t.Fatalf("second DeleteKeyValue: %v", err)
	}
	if _, err := e.js.StreamInfo("KV_TTL"); !errors.Is(err, nats.ErrStreamNotFound) {
		t.Fatalf("backing stream after delete: %v", err)
	}
}

func TestKVAcrossRestart(t *testing.T) {
	e := startJS(t)
	kv := createKV(t, e, &nats.KeyValueConfig{Bucket: "P", History: 2})
	kvPut(t, kv, "k", "v1")
	kvPut(t, kv, "k", "v2")
	kvPut(t, kv, "gone", "x")
	if err := kv.Delete("gone"); err != nil {
		t.Fatal(err)
	}
	e.restart(t)
	kv, err := e.js.KeyValue("P")
	if err != nil {
		t.Fatalf("KeyValue after restart: %v", err)
	}
	if en := kvGet(t, kv, "k"); string(en.Value()) != "v2" || en.Revision() != 2 {
		t.Fatalf("after restart %s", entryString(en))
	}
	if _, err := kv.Get("gone"); !errors.Is(err, nats.ErrKeyNotFound) {
		t.Fatalf("deleted key after restart: %v", err)
	}
	if _, err := kv.Update("k", []byte("v3"), 2); err != nil {
		t.Fatalf("Update after restart: %v", err)
	}
	if _, err := kv.Create("k", []byte("again")); !errors.Is(err, nats.ErrKeyExists) {
		t.Fatalf("Create of an existing key after restart: %v", err)
	}
}
