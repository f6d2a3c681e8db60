// JetStream consumers through nats.go against ferryd: pull (fetch, expires, no_wait), push
// (ephemeral, durable with a deliver subject and a queue group), acks (explicit, nak, nak with
// delay, term, in progress, none, all), redelivery and max_deliver, deliver policies, filters,
// max_ack_pending, ordered and headers-only consumers, and durability across a restart.
package ferry_interop

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
)

func TestJSPullConsumer(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "PULL", Subjects: []string{"pull.>"}})
	sub := pullSub(t, e, "PULL", &nats.ConsumerConfig{Durable: "D", AckPolicy: nats.AckExplicitPolicy})

	// Empty stream: no_wait gets 404 No Messages, a fetch with expires gets nothing.
	ns, _ := e.nc.Request("$JS.API.CONSUMER.MSG.NEXT.PULL.D", []byte(`{"batch":1,"no_wait":true}`), 5*time.Second)
	if ns == nil || ns.Header.Get("Status") != "404" || len(ns.Data) != 0 {
		t.Fatalf("no_wait on an empty consumer: %+v", ns)
	}
	start := time.Now()
	fetchNone(t, sub, 300*time.Millisecond)
	if d := time.Since(start); d < 250*time.Millisecond || d > 3*time.Second {
		t.Fatalf("an empty fetch with a 300 ms wait took %v", d)
	}

	for i := 1; i <= 10; i++ {
		e.pub(t, fmt.Sprintf("pull.%d", i), fmt.Sprint(i))
	}
	msgs := fetch(t, sub, 4, 5*time.Second)
	wantDatas(t, msgs, "1", "2", "3", "4")
	md := meta(t, msgs[3])
	if md.Stream != "PULL" || md.Consumer != "D" || md.Sequence.Stream != 4 || md.Sequence.Consumer != 4 ||
		md.NumDelivered != 1 || md.NumPending != 6 {
		t.Fatalf("metadata of the 4th: %+v", md)
	}
	if msgs[0].Subject != "pull.1" {
		t.Fatalf("subject %q", msgs[0].Subject)
	}
	ci := e.consumerInfo(t, "PULL", "D")
	if ci.NumAckPending != 4 || ci.NumPending != 6 || ci.Delivered.Stream != 4 || ci.Delivered.Consumer != 4 ||
		ci.AckFloor.Stream != 0 {
		t.Fatalf("info after 4 unacked: %+v", ci)
	}
	for _, m := range msgs {
		if err := m.AckSync(); err != nil {
			t.Fatalf("AckSync: %v", err)
		}
	}
	ci = e.consumerInfo(t, "PULL", "D")
	if ci.NumAckPending != 0 || ci.AckFloor.Stream != 4 || ci.AckFloor.Consumer != 4 || ci.NumPending != 6 {
		t.Fatalf("info after acks: %+v", ci)
	}
	// A batch larger than what is there returns what there is.
	msgs, err := sub.Fetch(20, nats.MaxWait(500*time.Millisecond))
	if err != nil || len(msgs) == 0 {
		t.Fatalf("fetch 20: %d %v", len(msgs), err)
	}
	rest := msgs
	for len(rest) < 6 {
		more := fetch(t, sub, 6-len(rest), 2*time.Second)
		rest = append(rest, more...)
	}
	wantDatas(t, rest, "5", "6", "7", "8", "9", "10")
	for _, m := range rest {
		m.Ack()
	}
	flush(t, e.nc)
	// no_wait with messages pending none: 404 again.
	ns, _ = e.nc.Request("$JS.API.CONSUMER.MSG.NEXT.PULL.D", []byte(`{"batch":3,"no_wait":true}`), 5*time.Second)
	if ns == nil || ns.Header.Get("Status") != "404" {
		t.Fatalf("no_wait when all delivered: %+v", ns)
	}

	// Consumer listing and deletion.
	pullSub(t, e, "PULL", &nats.ConsumerConfig{Durable: "E", AckPolicy: nats.AckExplicitPolicy})
	var names []string
	for n := range e.js.ConsumerNames("PULL") {
		names = append(names, n)
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "D,E" {
		t.Fatalf("ConsumerNames %v", names)
	}
	n := 0
	for ci := range e.js.Consumers("PULL") {
		if ci.Stream != "PULL" {
			t.Fatalf("listed consumer %+v", ci)
		}
		n++
	}
	if n != 2 {
		t.Fatalf("Consumers listed %d", n)
	}
	if err := e.js.DeleteConsumer("PULL", "E"); err != nil {
		t.Fatalf("DeleteConsumer: %v", err)
	}
	if _, err := e.js.ConsumerInfo("PULL", "E"); !errors.Is(err, nats.ErrConsumerNotFound) {
		t.Fatalf("info of a deleted consumer: %v", err)
	}
	if si := e.streamInfo(t, "PULL"); si.State.Consumers != 1 {
		t.Fatalf("consumer_count %d", si.State.Consumers)
	}
}

func TestJSAckKinds(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "ACK", Subjects: []string{"ack"}})
	sub := pullSub(t, e, "ACK", &nats.ConsumerConfig{Durable: "A", AckPolicy: nats.AckExplicitPolicy, AckWait: 800 * time.Millisecond})
	for i := 1; i <= 4; i++ {
		e.pub(t, "ack", fmt.Sprint(i))
	}
	msgs := fetch(t, sub, 4, 5*time.Second)
	// 1: nak -> redelivered at once with delivery count 2.
	if err := msgs[0].Nak(); err != nil {
		t.Fatal(err)
	}
	// 2: term -> never again.
	if err := msgs[1].Term(); err != nil {
		t.Fatal(err)
	}
	// 3: ack.
	if err := msgs[2].AckSync(); err != nil {
		t.Fatal(err)
	}
	// 4: nak with a 2 s delay.
	if err := msgs[3].NakWithDelay(2 * time.Second); err != nil {
		t.Fatal(err)
	}
	m := fetch(t, sub, 1, 2*time.Second)[0]
	if md := meta(t, m); string(m.Data) != "1" || md.NumDelivered != 2 || md.Sequence.Consumer != 5 {
		t.Fatalf("after nak got %q %+v", m.Data, md)
	}
	if ci := e.consumerInfo(t, "ACK", "A"); ci.NumRedelivered != 1 || ci.NumAckPending != 2 || ci.AckFloor.Stream != 0 {
		t.Fatalf("info with 1 redelivered and 4 delayed: %+v", ci)
	}
	// In progress resets the ack wait: keep it alive for longer than ack_wait.
	for i := 0; i < 3; i++ {
		time.Sleep(400 * time.Millisecond)
		if err := m.InProgress(); err != nil {
			t.Fatal(err)
		}
	}
	// By now ~1.2 s passed since the delayed nak of 4: nothing yet (1 is in progress).
	fetchNone(t, sub, 100*time.Millisecond)
	m.AckSync()
	d := fetch(t, sub, 1, 3*time.Second)[0]
	if md := meta(t, d); string(d.Data) != "4" || md.NumDelivered != 2 {
		t.Fatalf("delayed nak redelivery %q %+v", d.Data, md)
	}
	d.AckSync()
	fetchNone(t, sub, 1200*time.Millisecond) // 2 was terminated: it does not come back after ack_wait
	ci := e.consumerInfo(t, "ACK", "A")
	if ci.NumAckPending != 0 || ci.NumRedelivered != 0 || ci.NumPending != 0 || ci.AckFloor.Stream != 4 ||
		ci.Delivered.Consumer != 6 {
		t.Fatalf("final info %+v", ci)
	}
}

func TestJSRedeliveryAndMaxDeliver(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "RD", Subjects: []string{"rd"}})
	sub := pullSub(t, e, "RD", &nats.ConsumerConfig{Durable: "R", AckPolicy: nats.AckExplicitPolicy,
		AckWait: 300 * time.Millisecond, MaxDeliver: 3})
	adv, err := e.nc.SubscribeSync("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.RD.R")
	if err != nil {
		t.Fatal(err)
	}
	flush(t, e.nc)
	e.pub(t, "rd", "x")
	for want := uint64(1); want <= 3; want++ {
		m := fetch(t, sub, 1, 3*time.Second)[0]
		if md := meta(t, m); md.NumDelivered != want || md.Sequence.Stream != 1 {
			t.Fatalf("delivery %d: %+v", want, md)
		}
		// not acked: it comes back after ack_wait
	}
	fetchNone(t, sub, 900*time.Millisecond) // max_deliver 3 reached
	a := next(t, adv)
	var body map[string]any
	if err := json.Unmarshal(a.Data, &body); err != nil || body["stream_seq"] != float64(1) || body["deliveries"] != float64(3) {
		t.Fatalf("max deliveries advisory %q", a.Data)
	}
	if ci := e.consumerInfo(t, "RD", "R"); ci.Delivered.Consumer != 3 || ci.Delivered.Stream != 1 {
		t.Fatalf("info after max deliver %+v", ci)
	}
}

func TestJSPushConsumers(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "PUSH", Subjects: []string{"push.*"}})
	for i := 1; i <= 3; i++ {
		e.pub(t, "push.a", fmt.Sprint(i))
	}

	// Ephemeral push subscription (consumer made by the client).
	eph, err := e.js.SubscribeSync("push.a")
	if err != nil {
		t.Fatalf("ephemeral SubscribeSync: %v", err)
	}
	for i := 1; i <= 3; i++ {
		m := next(t, eph)
		if string(m.Data) != fmt.Sprint(i) || meta(t, m).Sequence.Stream != uint64(i) {
			t.Fatalf("ephemeral got %q", m.Data)
		}
		m.Ack()
	}
	e.pub(t, "push.a", "4")
	if m := next(t, eph); string(m.Data) != "4" {
		t.Fatalf("ephemeral live message %q", m.Data)
	}
	info, err := eph.ConsumerInfo()
	if err != nil || info.Config.Durable != "" || info.Config.DeliverSubject == "" || info.Delivered.Stream != 4 {
		t.Fatalf("ephemeral consumer info %+v %v", info, err)
	}
	ephName := info.Name
	if err := eph.Unsubscribe(); err != nil {
		t.Fatal(err)
	}
	// nats.go deletes the ephemeral consumer it made on Unsubscribe.
	if _, err := e.js.ConsumerInfo("PUSH", ephName); !errors.Is(err, nats.ErrConsumerNotFound) {
		t.Fatalf("ephemeral after unsubscribe: %v", err)
	}

	// Durable push with a deliver subject and a queue group: each message to one member.
	const n = 60
	got := make(chan string, 2*n)
	members := map[string]int{}
	var subs []*nats.Subscription
	for _, name := range []string{"m1", "m2"} {
		name := name
		s, err := e.js.QueueSubscribe("push.q", "workers", func(m *nats.Msg) {
			got <- name + ":" + string(m.Data)
			m.Ack()
		}, nats.Durable("QD"), nats.DeliverSubject("deliver.qd"), nats.ManualAck())
		if err != nil {
			t.Fatalf("QueueSubscribe %s: %v", name, err)
		}
		subs = append(subs, s)
	}
	ci := e.consumerInfo(t, "PUSH", "QD")
	if ci.Config.DeliverGroup != "workers" || ci.Config.DeliverSubject != "deliver.qd" {
		t.Fatalf("queue consumer config %+v", ci.Config)
	}
	for i := 0; i < n; i++ {
		e.pub(t, "push.q", fmt.Sprint(i))
	}
	seen := map[string]bool{}
	for i := 0; i < n; i++ {
		s := within(t, got, 5*time.Second, "queue group delivery")
		member, data, _ := strings.Cut(s, ":")
		if seen[data] {
			t.Fatalf("message %s delivered twice", data)
		}
		seen[data] = true
		members[member]++
	}
	select {
	case s := <-got:
		t.Fatalf("extra delivery %s", s)
	case <-time.After(200 * time.Millisecond):
	}
	if members["m1"] == 0 || members["m2"] == 0 {
		t.Fatalf("one member got everything: %v", members)
	}
	ci = e.consumerInfo(t, "PUSH", "QD")
	for deadline := time.Now().Add(3 * time.Second); ci.NumAckPending != 0 && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		ci = e.consumerInfo(t, "PUSH", "QD")
	}
	if ci.Delivered.Stream != 3+1+n || ci.Delivered.Consumer != n || ci.NumAckPending != 0 || ci.NumPending != 0 {
		t.Fatalf("durable push info %+v", ci)
	}
	// nats.go deletes the consumer it made when its subscriptions unsubscribe.
	for _, s := range subs {
		s.Unsubscribe()
	}

	// A plain core subscription on a durable's deliver subject gets the messages and can ack them.
	if _, err := e.js.AddConsumer("PUSH", &nats.ConsumerConfig{Durable: "PD", DeliverSubject: "deliver.pd",
		AckPolicy: nats.AckExplicitPolicy, FilterSubject: "push.a"}); err != nil {
		t.Fatalf("AddConsumer PD: %v", err)
	}
	core, _ := e.nc.SubscribeSync("deliver.pd")
	for i := 1; i <= 4; i++ {
		m := next(t, core)
		if m.Subject != "push.a" || !strings.HasPrefix(m.Reply, "$JS.ACK.PUSH.PD.1.") {
			t.Fatalf("push delivery subject %q reply %q", m.Subject, m.Reply)
		}
		m.Ack()
	}
	if _, err := e.js.PullSubscribe("", "PD", nats.Bind("PUSH", "PD")); err == nil {
		t.Fatalf("pull subscribe to a push consumer succeeded")
	}
}

func TestJSDeliverPolicies(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "DP", Subjects: []string{"dp.*"}})
	for i := 1; i <= 3; i++ {
		e.pub(t, "dp.a", fmt.Sprint("a", i))
		e.pub(t, "dp.b", fmt.Sprint("b", i))
	}
	time.Sleep(50 * time.Millisecond)
	cut := time.Now()
	time.Sleep(50 * time.Millisecond)
	e.pub(t, "dp.a", "a4") // seq 7
	e.pub(t, "dp.c", "c1") // seq 8

	cases := []struct {
		name string
		cfg  nats.ConsumerConfig
		want []string
	}{
		{"all", nats.ConsumerConfig{DeliverPolicy: nats.DeliverAllPolicy}, []string{"a1", "b1", "a2", "b2", "a3", "b3", "a4", "c1"}},
		{"last", nats.ConsumerConfig{DeliverPolicy: nats.DeliverLastPolicy}, []string{"c1"}},
		{"new", nats.ConsumerConfig{DeliverPolicy: nats.DeliverNewPolicy}, nil},
		{"seq", nats.ConsumerConfig{DeliverPolicy: nats.DeliverByStartSequencePolicy, OptStartSeq: 5}, []string{"a3", "b3", "a4", "c1"}},
		{"time", nats.ConsumerConfig{DeliverPolicy: nats.DeliverByStartTimePolicy, OptStartTime: &cut}, []string{"a4", "c1"}},
		{"lastper", nats.ConsumerConfig{DeliverPolicy: nats.DeliverLastPerSubjectPolicy, FilterSubject: "dp.*"}, []string{"b3", "a4", "c1"}},
		{"filter", nats.ConsumerConfig{FilterSubject: "dp.b"}, []string{"b1", "b2", "b3"}},
		{"filterlast", nats.ConsumerConfig{FilterSubject: "dp.a", DeliverPolicy: nats.DeliverLastPolicy}, []string{"a4"}},
		{"filterlastper", nats.ConsumerConfig{FilterSubject: "dp.b", DeliverPolicy: nats.DeliverLastPerSubjectPolicy}, []string{"b3"}},
	}
	// nats-server 2.9 wants a filter subject with last_per_subject.
	_, err := e.js.AddConsumer("DP", &nats.ConsumerConfig{Durable: "nofilter", DeliverPolicy: nats.DeliverLastPerSubjectPolicy})
	wantAPIError(t, err, 10094, "last_per_subject without a filter")
	for _, c := range cases {
		cfg := c.cfg
		cfg.Durable = c.name
		cfg.AckPolicy = nats.AckExplicitPolicy
		sub := pullSub(t, e, "DP", &cfg)
		ci := e.consumerInfo(t, "DP", c.name)
		if ci.NumPending != uint64(len(c.want)) {
			t.Fatalf("%s: num_pending %d, want %d", c.name, ci.NumPending, len(c.want))
		}
		var got []*nats.Msg
		if len(c.want) > 0 {
			got = fetch(t, sub, len(c.want), 3*time.Second)
		}
		wantDatas(t, got, c.want...)
		fetchNone(t, sub, 100*time.Millisecond)
	}
	// A new message reaches "new" and the filtered consumer only when it matches.
	e.pub(t, "dp.b", "b4")
	sub, _ := e.js.PullSubscribe("", "new", nats.Bind("DP", "new"))
	wantDatas(t, fetch(t, sub, 1, 3*time.Second), "b4")
	sub, _ = e.js.PullSubscribe("dp.b", "filter", nats.Bind("DP", "filter"))
	wantDatas(t, fetch(t, sub, 1, 3*time.Second), "b4")
	sub, _ = e.js.PullSubscribe("dp.a", "filterlast", nats.Bind("DP", "filterlast"))
	fetchNone(t, sub, 100*time.Millisecond)
}

func TestJSAckPoliciesAndMaxAckPending(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "AP", Subjects: []string{"ap"}})
	for i := 1; i <= 10; i++ {
		e.pub(t, "ap", fmt.Sprint(i))
	}
	// Ack none: nothing is pending, the ack floor follows delivery.
	none := pullSub(t, e, "AP", &nats.ConsumerConfig{Durable: "none", AckPolicy: nats.AckNonePolicy, AckWait: 200 * time.Millisecond})
	fetch(t, none, 10, 3*time.Second)
	fetchNone(t, none, 400*time.Millisecond) // no redelivery
	if ci := e.consumerInfo(t, "AP", "none"); ci.NumAckPending != 0 || ci.AckFloor.Stream != 10 || ci.NumPending != 0 {
		t.Fatalf("ack none info %+v", ci)
	}
	// Ack all: acking the 5th acknowledges 1..5.
	all := pullSub(t, e, "AP", &nats.ConsumerConfig{Durable: "all", AckPolicy: nats.AckAllPolicy})
	msgs := fetch(t, all, 8, 3*time.Second)
	if err := msgs[4].AckSync(); err != nil {
		t.Fatal(err)
	}
	if ci := e.consumerInfo(t, "AP", "all"); ci.NumAckPending != 3 || ci.AckFloor.Stream != 5 || ci.NumPending != 2 {
		t.Fatalf("ack all info %+v", ci)
	}
	// Max ack pending: at most 3 unacknowledged at a time.
	map3 := pullSub(t, e, "AP", &nats.ConsumerConfig{Durable: "map", AckPolicy: nats.AckExplicitPolicy, MaxAckPending: 3})
	msgs, err := map3.Fetch(10, nats.MaxWait(500*time.Millisecond))
	if err != nil || len(msgs) != 3 {
		t.Fatalf("fetch with max_ack_pending 3: %d %v", len(msgs), err)
	}
	fetchNone(t, map3, 200*time.Millisecond)
	msgs[0].AckSync()
	wantDatas(t, fetch(t, map3, 1, 2*time.Second), "4")
	if ci := e.consumerInfo(t, "AP", "map"); ci.NumAckPending != 3 || ci.NumPending != 6 || ci.Config.MaxAckPending != 3 {
		t.Fatalf("max ack pending info %+v", ci)
	}
}

func TestJSOrderedAndHeadersOnly(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "ORD", Subjects: []string{"ord.>"}})
	for i := 0; i < 200; i++ {
		m := nats.NewMsg(fmt.Sprintf("ord.%d", i%5))
		m.Header.Set("N", fmt.Sprint(i))
		m.Data = []byte(strings.Repeat("x", i))
		if _, err := e.js.PublishMsg(m); err != nil {
			t.Fatal(err)
		}
	}
	sub, err := e.js.SubscribeSync("ord.>", nats.OrderedConsumer())
	if err != nil {
		t.Fatalf("ordered consumer: %v", err)
	}
	for i := 0; i < 200; i++ {
		m := next(t, sub)
		md := meta(t, m)
		if m.Header.Get("N") != fmt.Sprint(i) || len(m.Data) != i || md.Sequence.Stream != uint64(i+1) {
			t.Fatalf("ordered message %d: header %q len %d seq %d", i, m.Header.Get("N"), len(m.Data), md.Sequence.Stream)
		}
	}
	e.pub(t, "ord.live", "live")
	if m := next(t, sub); string(m.Data) != "live" {
		t.Fatalf("ordered live %q", m.Data)
	}
	ci, err := sub.ConsumerInfo()
	if err != nil || ci.Config.AckPolicy != nats.AckNonePolicy || !ci.Config.FlowControl || ci.Config.Heartbeat == 0 {
		t.Fatalf("ordered consumer info %+v %v", ci, err)
	}
	sub.Unsubscribe()

	// Headers only: no body, the size in Nats-Msg-Size, original headers kept.
	ho, err := e.js.SubscribeSync("ord.3", nats.HeadersOnly(), nats.DeliverLast())
	if err != nil {
		t.Fatalf("headers only: %v", err)
	}
	m := next(t, ho)
	if len(m.Data) != 0 || m.Header.Get("Nats-Msg-Size") != "198" || m.Header.Get("N") != "198" {
		t.Fatalf("headers only message %q %v", m.Data, m.Header)
	}
}

func TestJSDurabilityAcrossRestart(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "DUR", Subjects: []string{"dur.>"}})
	e.addStream(t, &nats.StreamConfig{Name: "DMEM", Subjects: []string{"dmem"}, Storage: nats.MemoryStorage})
	for i := 1; i <= 10; i++ {
		e.pub(t, "dur.x", fmt.Sprint(i), nats.MsgId(fmt.Sprint("id", i)))
	}
	sub := pullSub(t, e, "DUR", &nats.ConsumerConfig{Durable: "C", AckPolicy: nats.AckExplicitPolicy, AckWait: time.Second})
	if _, err := e.js.AddConsumer("DUR", &nats.ConsumerConfig{Durable: "PUSHD", DeliverSubject: "deliver.dur",
		AckPolicy: nats.AckExplicitPolicy}); err != nil {
		t.Fatal(err)
	}
	msgs := fetch(t, sub, 5, 3*time.Second)
	for _, m := range msgs {
		if err := m.AckSync(); err != nil {
			t.Fatal(err)
		}
	}
	wantDatas(t, msgs, "1", "2", "3", "4", "5")

	e.restart(t)

	si := e.streamInfo(t, "DUR")
	if si.State.Msgs != 10 || si.State.FirstSeq != 1 || si.State.LastSeq != 10 || si.State.Consumers != 2 {
		t.Fatalf("stream after restart %+v", si.State)
	}
	ci := e.consumerInfo(t, "DUR", "C")
	if ci.AckFloor.Stream != 5 || ci.Delivered.Stream != 5 || ci.NumPending != 5 || ci.NumAckPending != 0 ||
		ci.Config.AckWait != time.Second {
		t.Fatalf("consumer after restart %+v", ci)
	}
	if ci := e.consumerInfo(t, "DUR", "PUSHD"); ci.Config.DeliverSubject != "deliver.dur" {
		t.Fatalf("push durable after restart %+v", ci.Config)
	}
	// A memory stream does not survive a restart.
	if _, err := e.js.StreamInfo("DMEM"); !errors.Is(err, nats.ErrStreamNotFound) {
		t.Fatalf("memory stream after restart: %v", err)
	}
	// Dedup ids survive too.
	if pa := e.pub(t, "dur.x", "dup", nats.MsgId("id10")); !pa.Duplicate || pa.Sequence != 10 {
		t.Fatalf("dedup after restart %+v", pa)
	}
	sub, err := e.js.PullSubscribe("", "C", nats.Bind("DUR", "C"))
	if err != nil {
		t.Fatal(err)
	}
	msgs = fetch(t, sub, 5, 3*time.Second)
	wantDatas(t, msgs, "6", "7", "8", "9", "10")
	if md := meta(t, msgs[0]); md.Sequence.Consumer != 6 || md.NumDelivered != 1 {
		t.Fatalf("first after restart %+v", md)
	}
	e.pub(t, "dur.x", "11")
	wantDatas(t, fetch(t, sub, 1, 3*time.Second), "11")
}

func TestJSFlowControlLargeVolume(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "BIG", Subjects: []string{"big"}})
	const n, size = 64, 100 << 10 // 6.4 MiB: several flow-control rounds
	payload := make([]byte, size)
	for i := 0; i < n; i++ {
		copy(payload, fmt.Sprintf("%04d", i))
		if _, err := e.js.PublishAsync("big", payload); err != nil {
			t.Fatal(err)
		}
	}
	within(t, e.js.PublishAsyncComplete(), 10*time.Second, "async publish acks")
	check := func(what string, sub *nats.Subscription, ack bool) {
		t.Helper()
		for i := 0; i < n; i++ {
			m, err := sub.NextMsg(10 * time.Second)
			if err != nil {
				t.Fatalf("%s: message %d: %v", what, i, err)
			}
			if len(m.Data) != size || string(m.Data[:4]) != fmt.Sprintf("%04d", i) {
				t.Fatalf("%s: message %d is %q (%d bytes)", what, i, m.Data[:4], len(m.Data))
			}
			if ack {
				m.Ack()
			}
		}
	}
	ord, err := e.js.SubscribeSync("big", nats.OrderedConsumer())
	if err != nil {
		t.Fatal(err)
	}
	check("ordered", ord, false)
	fc, err := e.js.SubscribeSync("big", nats.Durable("FC"), nats.DeliverSubject("deliver.fc"),
		nats.EnableFlowControl(), nats.IdleHeartbeat(time.Second), nats.ManualAck())
	if err != nil {
		t.Fatal(err)
	}
	check("flow control", fc, true)
	flush(t, e.nc)
	if ci := e.consumerInfo(t, "BIG", "FC"); ci.Delivered.Stream != n || ci.Config.FlowControl != true {
		t.Fatalf("flow control consumer %+v", ci)
	}
}

func TestJSRetentionPolicies(t *testing.T) {
	e := startJS(t)
	// Work queue: an acked message leaves the stream; one unfiltered consumer at most.
	e.addStream(t, &nats.StreamConfig{Name: "WQ", Subjects: []string{"wq.*"}, Retention: nats.WorkQueuePolicy})
	for i := 1; i <= 4; i++ {
		e.pub(t, "wq.a", fmt.Sprint(i))
	}
	sub := pullSub(t, e, "WQ", &nats.ConsumerConfig{Durable: "W", AckPolicy: nats.AckExplicitPolicy})
	_, err := e.js.AddConsumer("WQ", &nats.ConsumerConfig{Durable: "W2", AckPolicy: nats.AckExplicitPolicy})
	if err == nil {
		t.Fatalf("a second unfiltered work-queue consumer was accepted")
	}
	msgs := fetch(t, sub, 4, 3*time.Second)
	msgs[0].AckSync()
	msgs[2].AckSync()
	if si := e.streamInfo(t, "WQ"); si.State.Msgs != 2 || si.State.FirstSeq != 2 {
		t.Fatalf("work queue after 2 acks %+v", si.State)
	}
	// Interest: nothing is kept without consumers; acked by all consumers, a message goes.
	e.addStream(t, &nats.StreamConfig{Name: "INT", Subjects: []string{"int"}, Retention: nats.InterestPolicy})
	e.pub(t, "int", "nobody")
	if si := e.streamInfo(t, "INT"); si.State.Msgs != 0 || si.State.LastSeq != 1 {
		t.Fatalf("interest without consumers %+v", si.State)
	}
	s1 := pullSub(t, e, "INT", &nats.ConsumerConfig{Durable: "I1", AckPolicy: nats.AckExplicitPolicy})
	s2 := pullSub(t, e, "INT", &nats.ConsumerConfig{Durable: "I2", AckPolicy: nats.AckExplicitPolicy})
	e.pub(t, "int", "both")
	fetch(t, s1, 1, 3*time.Second)[0].AckSync()
	if si := e.streamInfo(t, "INT"); si.State.Msgs != 1 {
		t.Fatalf("interest with one ack of two %+v", si.State)
	}
	fetch(t, s2, 1, 3*time.Second)[0].AckSync()
	if si := e.streamInfo(t, "INT"); si.State.Msgs != 0 {
		t.Fatalf("interest with both acks %+v", si.State)
	}
}

func TestJSConsumerUpdateAndBackoff(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "UB", Subjects: []string{"ub"}})
	sub := pullSub(t, e, "UB", &nats.ConsumerConfig{Durable: "U", AckPolicy: nats.AckExplicitPolicy, AckWait: 30 * time.Second})
	ci, err := e.js.UpdateConsumer("UB", &nats.ConsumerConfig{Durable: "U", AckPolicy: nats.AckExplicitPolicy,
		Description: "updated", MaxDeliver: 4, BackOff: []time.Duration{200 * time.Millisecond, 700 * time.Millisecond}})
	if err != nil {
		t.Fatalf("UpdateConsumer: %v", err)
	}
	if ci.Config.Description != "updated" || ci.Config.AckWait != 200*time.Millisecond || len(ci.Config.BackOff) != 2 {
		t.Fatalf("updated config %+v", ci.Config)
	}
	if _, err := e.js.UpdateConsumer("UB", &nats.ConsumerConfig{Durable: "U", AckPolicy: nats.AckNonePolicy}); err == nil {
		t.Fatalf("changing the ack policy was accepted")
	}
	e.pub(t, "ub", "x")
	var at []time.Duration
	start := time.Now()
	for i := 0; i < 4; i++ {
		m := fetch(t, sub, 1, 3*time.Second)[0]
		at = append(at, time.Since(start))
		if md := meta(t, m); md.NumDelivered != uint64(i+1) {
			t.Fatalf("delivery %d has count %d", i+1, md.NumDelivered)
		}
	}
	fetchNone(t, sub, time.Second) // max_deliver 4
	// Backoff: 200 ms after the 1st, then 700 ms after each later one.
	gaps := []time.Duration{at[1] - at[0], at[2] - at[1], at[3] - at[2]}
	if gaps[0] < 150*time.Millisecond || gaps[0] > 600*time.Millisecond ||
		gaps[1] < 600*time.Millisecond || gaps[2] < 600*time.Millisecond || gaps[2] > 2*time.Second {
		t.Fatalf("redelivery gaps %v, want about 200ms, 700ms, 700ms", gaps)
	}
}

func TestJSPendingRedeliveredAfterRestart(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "PR", Subjects: []string{"pr"}})
	for i := 1; i <= 6; i++ {
		e.pub(t, "pr", fmt.Sprint(i))
	}
	if _, err := e.js.AddConsumer("PR", &nats.ConsumerConfig{Durable: "P", DeliverSubject: "deliver.pr",
		AckPolicy: nats.AckExplicitPolicy, AckWait: time.Second}); err != nil {
		t.Fatal(err)
	}
	core, _ := e.nc.SubscribeSync("deliver.pr")
	for i := 1; i <= 6; i++ {
		m := next(t, core)
		if i <= 3 {
			if err := m.AckSync(); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.restart(t)
	ci := e.consumerInfo(t, "PR", "P")
	if ci.Delivered.Stream != 6 || ci.AckFloor.Stream != 3 || ci.NumAckPending != 3 || ci.NumPending != 0 {
		t.Fatalf("push durable after restart %+v", ci)
	}
	core, _ = e.nc.SubscribeSync("deliver.pr")
	e.pub(t, "pr", "7")
	var got []string
	for i := 0; i < 4; i++ {
		m := next(t, core)
		md := meta(t, m)
		got = append(got, fmt.Sprintf("%s/%d", m.Data, md.NumDelivered))
		m.AckSync()
	}
	sort.Strings(got)
	if strings.Join(got, ",") != "4/2,5/2,6/2,7/1" {
		t.Fatalf("after restart got %v, want 4-6 redelivered and 7", got)
	}
}

func TestJSStreamInfoSubjectsAndMaxBytes(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "SI", Subjects: []string{"si.>"}})
	for i := 0; i < 6; i++ {
		e.pub(t, fmt.Sprintf("si.%d", i%3), strings.Repeat("x", 100))
	}
	si, err := e.js.StreamInfo("SI", &nats.StreamInfoRequest{SubjectsFilter: "si.>"})
	if err != nil || len(si.State.Subjects) != 3 || si.State.Subjects["si.1"] != 2 || si.State.NumSubjects != 3 {
		t.Fatalf("subjects %v (%v)", si.State.Subjects, err)
	}
	// max_bytes in a pull request: the request ends (409) when the next message would not fit.
	// nats-server counts subject + ack reply + headers + data: about 145 bytes each here.
	sub := pullSub(t, e, "SI", &nats.ConsumerConfig{Durable: "MB", AckPolicy: nats.AckNonePolicy})
	start := time.Now()
	msgs, err := sub.Fetch(6, nats.PullMaxBytes(300), nats.MaxWait(2*time.Second))
	if err != nil || len(msgs) != 2 || time.Since(start) > time.Second {
		t.Fatalf("fetch with max_bytes 300: %d messages, %v, after %v", len(msgs), err, time.Since(start))
	}
	// A message larger than max_bytes: 409 at once, nothing delivered.
	raw, err := e.nc.Request("$JS.API.CONSUMER.MSG.NEXT.SI.MB", []byte(`{"batch":1,"max_bytes":50}`), 2*time.Second)
	if err != nil || raw.Header.Get("Status") != "409" || raw.Header.Get("Description") != "Message Size Exceeds MaxBytes" ||
		raw.Header.Get("Nats-Pending-Bytes") != "50" {
		t.Fatalf("pull with max_bytes below the message size: %+v %v", raw, err)
	}
}

func TestJSAccountInfoAndConsumerLimits(t *testing.T) {
	e := startJS(t)
	e.addStream(t, &nats.StreamConfig{Name: "AI", Subjects: []string{"ai"}})
	e.addStream(t, &nats.StreamConfig{Name: "AIM", Subjects: []string{"aim"}, Storage: nats.MemoryStorage})
	e.pub(t, "ai", "file")
	e.pub(t, "aim", "memory")
	sub := pullSub(t, e, "AI", &nats.ConsumerConfig{Durable: "W", AckPolicy: nats.AckExplicitPolicy, MaxRequestBatch: 5})
	ai, err := e.js.AccountInfo()
	if err != nil || ai.Streams != 2 || ai.Consumers != 1 || ai.Store == 0 || ai.Memory == 0 || ai.API.Total == 0 {
		t.Fatalf("AccountInfo %+v %v", ai, err)
	}

	// A waiting pull request shows in num_waiting.
	wantDatas(t, fetch(t, sub, 1, 3*time.Second), "file")
	done := make(chan int, 1)
	var ci *nats.ConsumerInfo
	go func() {
		msgs, _ := sub.Fetch(1, nats.MaxWait(2*time.Second))
		done <- len(msgs)
	}()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ci = e.consumerInfo(t, "AI", "W"); ci.NumWaiting == 1 {
			break
		}
	}
	if ci.NumWaiting != 1 {
		t.Fatalf("num_waiting with a pending fetch: %+v", ci)
	}
	e.pub(t, "ai", "second")
	if n := within(t, done, 5*time.Second, "the waiting fetch"); n != 1 {
		t.Fatalf("waiting fetch got %d", n)
	}
	// A batch over max_batch: 409 Exceeded MaxRequestBatch.
	raw, err := e.nc.Request("$JS.API.CONSUMER.MSG.NEXT.AI.W", []byte(`{"batch":6,"expires":1000000000}`), 2*time.Second)
	if err != nil || raw.Header.Get("Status") != "409" || raw.Header.Get("Description") != "Exceeded MaxRequestBatch of 5" {
		t.Fatalf("batch over max_batch: %+v %v", raw, err)
	}

	// An ephemeral consumer goes away after its inactive threshold.
	ci, err = e.js.AddConsumer("AI", &nats.ConsumerConfig{AckPolicy: nats.AckExplicitPolicy, InactiveThreshold: 300 * time.Millisecond})
	if err != nil || ci.Name == "" || ci.Config.Durable != "" {
		t.Fatalf("ephemeral pull consumer %+v %v", ci, err)
	}
	name := ci.Name
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if _, err := e.js.ConsumerInfo("AI", name); errors.Is(err, nats.ErrConsumerNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ephemeral consumer still there 5 s after its 300 ms inactive threshold")
		}
	}
	// A durable with the same threshold stays (nats-server 2.9 applies it to ephemerals only).
	if _, err := e.js.ConsumerInfo("AI", "W"); err != nil {
		t.Fatalf("durable gone: %v", err)
	}
}
