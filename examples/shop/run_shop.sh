#!/usr/bin/env bash
# Runs the whole shop once: a broker on free ports (ferryd with JetStream, or ferry-kafka-mock
# with --transport kafka), the four services, and shop-load posting orders; kills order-service
# with SIGKILL right after it accepted 30% of the orders (its outbox still holding events) and
# inventory-service when 60% are posted (sagas in flight), restarting each a second later; prints
# shop-load's progress and summary; stops everything it started. Exits with shop-load's status
# (0: every check passed). Used by `make demo` and by the shop_e2e tests.
#
#   examples/shop/run_shop.sh [--bin DIR] [--transport nats|kafka|redis|rabbitmq] [--payment bus|grpc]
#                             [--orders N] [--rate R] [--no-kill] [--keep] [--show]
#     --transport  nats (default): ferryd, JetStream streams and NATS request/reply;
#                  kafka: a 3-broker ferry-kafka-mock and the Kafka transport for everything;
#                  redis: Debian's redis-server (append-only file, fsync always) and the Redis
#                  Streams transport for everything
#                  rabbitmq: Debian's rabbitmq-server (a node of its own, quorum queues) and the
#                  RabbitMQ transport for everything
#     --payment    bus (default): the saga's charge is a command to payment-service on the bus;
#                  grpc: payment-service also serves Charge over gRPC and inventory-service calls it
#                  (the trace check then also requires the call's CLIENT and SERVER spans to chain)
#     --show   after the summary, also show the dead letters (ferry dlq ls) and one order's trace
#     --keep   keep the work directory (logs, databases, stream files) and print where it is
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=$here/../../build/bin
orders=300 rate=30 kill=1 keep=0 show=0 transport=nats payment=bus
while [ $# -gt 0 ]; do
  case $1 in
    --bin) bin=$2; shift ;;
    --transport) transport=$2; shift ;;
    --payment) payment=$2; shift ;;
    --orders) orders=$2; shift ;;
    --rate) rate=$2; shift ;;
    --no-kill) kill=0 ;;
    --keep) keep=1 ;;
    --show) show=1 ;;
    *) echo "run_shop.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
case $transport in
  nats) broker=ferryd ;;
  kafka) broker=ferry-kafka-mock ;;
  redis) broker=redis-server ;;
  rabbitmq) broker=rabbitmq-server ;;
  *) echo "run_shop.sh: --transport must be nats, kafka, redis or rabbitmq, not $transport" >&2; exit 2 ;;
esac
case $payment in
  bus | grpc) ;;
  *) echo "run_shop.sh: --payment must be bus or grpc, not $payment" >&2; exit 2 ;;
esac
if [ "$broker" = redis-server ]; then
  command -v redis-server >/dev/null || { echo "run_shop.sh: redis-server is missing (make deps)" >&2; exit 2; }
fi
rabbit_script=/usr/lib/rabbitmq/bin/rabbitmq-server
if [ "$broker" = rabbitmq-server ]; then
  [ -x "$rabbit_script" ] && command -v epmd >/dev/null ||
    { echo "run_shop.sh: rabbitmq-server is missing (make deps)" >&2; exit 2; }
fi
system_broker() { [ "$broker" = redis-server ] || [ "$broker" = rabbitmq-server ]; }
for b in $(system_broker || echo "$broker") ferry shop-order shop-inventory shop-payment shop-notification shop-load; do
  [ -x "$bin/$b" ] || { echo "run_shop.sh: $bin/$b is missing (build first)" >&2; exit 2; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/ferry-shop.XXXXXX")
declare -A pid group
status=2
# stop NAME...: SIGTERM (a graceful stop), SIGKILL for whoever is still there after 10 s.
# (rabbitmq-server and its epmd run in process groups of their own: the group is signalled.)
stop() {
  local name
  for name in "$@"; do
    [ -n "${pid[$name]:-}" ] || continue
    if [ -n "${group[$name]:-}" ]; then kill -TERM -- "-${pid[$name]}" 2>/dev/null; else kill -TERM "${pid[$name]}" 2>/dev/null; fi
  done
  for name in "$@"; do
    [ -n "${pid[$name]:-}" ] || continue
    timeout 10 tail -s 0.05 --pid="${pid[$name]}" -f /dev/null ||
      { echo "run_shop.sh: $name did not stop on SIGTERM" >&2; kill -KILL -- "${group[$name]:+-}${pid[$name]}" 2>/dev/null; }
    wait "${pid[$name]}" 2>/dev/null
    unset "pid[$name]"
  done
}
cleanup() {
  stop order inventory payment notification  # the services first, while the broker still serves them
  stop broker epmd prometheus collector
  if [ "$status" != 0 ]; then
    for log in "$work"/*.log; do echo "---- tail of $log"; tail -n 15 "$log"; done
  fi
  if [ "$keep" = 1 ]; then echo "work directory kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# free_ports N: N distinct free TCP ports on 127.0.0.1, one Python start-up for all of them.
free_ports() {
  python3 -c 'import socket,sys
socks=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks: s.bind(("127.0.0.1",0))
print(" ".join(str(s.getsockname()[1]) for s in socks))' "$1"
}
wait_port() {  # waits up to 10 s for something to listen on 127.0.0.1:$1
  for _ in $(seq 200); do (exec 3<>/dev/tcp/127.0.0.1/"$1") 2>/dev/null && return 0; sleep 0.05; done
  echo "run_shop.sh: nothing listens on port $1" >&2; return 1
}
read -r nats_port mon_port order_port inv_port notif_port prom_port otlp_port grpc_port <<<"$(free_ports 8)"

# start NAME ARGS...: starts build/bin/shop-NAME (or the broker) in the background, logging to
# $work/NAME.log (appended, so a restart keeps the first run's lines).
start() {
  local name=$1; shift
  if [ "$name" = broker ] && [ "$broker" = redis-server ]; then
    redis-server "$@" >>"$work/$broker.log" 2>&1 &
  elif [ "$name" = broker ] && [ "$broker" = rabbitmq-server ]; then
    setsid env "$@" "$rabbit_script" >>"$work/$broker.log" 2>&1 &
    group[$name]=1
  elif [ "$name" = epmd ]; then
    setsid epmd "$@" >>"$work/epmd.log" 2>&1 &
    group[$name]=1
  elif [ "$name" = broker ]; then
    "$bin/$broker" "$@" >>"$work/$broker.log" 2>&1 &
  elif [ "$name" = prometheus ]; then
    prometheus "$@" >>"$work/prometheus.log" 2>&1 &
  elif [ "$name" = collector ]; then
    python3 "$here/otlp_collector.py" serve "$@" >>"$work/collector.log" 2>&1 &
  else
    "$bin/shop-$name" --server "$url" --data "$work/$name" "${otlp_args[@]}" "$@" >>"$work/$name.log" 2>&1 &
  fi
  pid[$name]=$!
}

if [ "$transport" = nats ]; then
  url=nats://127.0.0.1:$nats_port
  echo "== ferryd on $url with JetStream in $work/jetstream (monitoring http://127.0.0.1:$mon_port)"
  start broker -a 127.0.0.1 -p "$nats_port" -m "$mon_port" -js -sd "$work/jetstream"
  wait_port "$nats_port" || exit 2
elif [ "$transport" = redis ]; then
  mkdir -p "$work/redis"
  url=redis://127.0.0.1:$nats_port
  echo "== redis-server on 127.0.0.1:$nats_port (append-only file in $work/redis, fsync always)"
  start broker --port "$nats_port" --bind 127.0.0.1 --dir "$work/redis" --appendonly yes --appendfsync always \
    --save '' --daemonize no --logfile ''
  wait_port "$nats_port" || exit 2
elif [ "$transport" = rabbitmq ]; then
  read -r dist_port epmd_port <<<"$(free_ports 2)"
  r=$work/rabbitmq
  mkdir -p "$r/log"
  echo "[]." >"$r/enabled_plugins"
  printf 'listeners.tcp.default = 127.0.0.1:%s\nloopback_users = none\nlog.console = false\n' "$nats_port" >"$r/rabbitmq.conf"
  url=amqp://guest:guest@127.0.0.1:$nats_port
  echo "== rabbitmq-server on 127.0.0.1:$nats_port (a node of its own in $r; quorum queues; Erlang takes a few seconds to boot)"
  start epmd -port "$epmd_port" -address 127.0.0.1
  start broker HOME="$r" RABBITMQ_NODENAME="shop$nats_port@localhost" RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 \
    RABBITMQ_NODE_PORT="$nats_port" RABBITMQ_DIST_PORT="$dist_port" ERL_EPMD_PORT="$epmd_port" \
    RABBITMQ_MNESIA_BASE="$r/mnesia" RABBITMQ_LOG_BASE="$r/log" RABBITMQ_ENABLED_PLUGINS_FILE="$r/enabled_plugins" \
    RABBITMQ_CONFIG_FILE="$r/rabbitmq.conf" RABBITMQ_PID_FILE="$r/pid"
  for _ in $(seq 1200); do (exec 3<>/dev/tcp/127.0.0.1/"$nats_port") 2>/dev/null && break; sleep 0.1; done
  wait_port "$nats_port" || exit 2
else
  start broker --brokers 3 --bootstrap-file "$work/bootstrap" </dev/null
  for _ in $(seq 200); do [ -s "$work/bootstrap" ] && break; sleep 0.05; done
  [ -s "$work/bootstrap" ] || { echo "run_shop.sh: ferry-kafka-mock did not start" >&2; exit 2; }
  # The mock answers an empty fetch only after fetch.wait.max.ms and holds a rebalance for the
  # session timeout (a real Kafka answers as soon as data arrives): both small for the demo.
  url="kafka://$(cat "$work/bootstrap")?session_timeout=6s&heartbeat_interval=500ms&commit_interval=200ms&fetch.wait.max.ms=10"
  echo "== ferry-kafka-mock: 3 Kafka brokers at ${url%%\?*} (in memory; see docs/kafka-mock.md)"
fi
# A stand-in OpenTelemetry collector (otlp_collector.py) when the OpenTelemetry JS types that check
# its bodies are installed (make deps): every service sends its spans there with --otlp.
otlp_args=()
js_dir=$here/../../tests/interop/js
if command -v node >/dev/null && [ -d "$js_dir/node_modules/@opentelemetry/otlp-transformer" ]; then
  start collector "$otlp_port" "$work/otlp"
  wait_port "$otlp_port" || exit 2
  otlp_args=(--otlp "http://127.0.0.1:$otlp_port/v1/traces")
  echo "== OpenTelemetry collector (a stand-in) on http://127.0.0.1:$otlp_port/v1/traces"
else
  echo "== node or npm @opentelemetry/otlp-transformer is missing (make deps): the trace checks are SKIPPED"
fi
echo "== services: order (http://127.0.0.1:$order_port), inventory (:$inv_port), payment, notification (:$notif_port)"
# The saga's payment timeout must outlast what a crash of inventory-service delays a reply by: a
# reply delivered to the killed process comes back after the ack wait (5 s) on JetStream, and a
# Kafka group that lost a member waits for the session timeout (6 s here) before the restarted
# service gets its partitions again.
payment_timeout=12000
[ "$transport" = kafka ] && payment_timeout=20000
inventory_args=(--payment-timeout "$payment_timeout") payment_args=() grpc_checks=()
if [ "$payment" = grpc ]; then
  echo "== payment-service serves Charge over gRPC on 127.0.0.1:$grpc_port; inventory-service calls it"
  payment_args=(--grpc-listen "127.0.0.1:$grpc_port")
  inventory_args+=(--payment-grpc "127.0.0.1:$grpc_port")
  grpc_checks=(--grpc)
fi
start order --http "$order_port"
start inventory --http "$inv_port" "${inventory_args[@]}"
start payment "${payment_args[@]}"
start notification --http "$notif_port"
for p in "$order_port" "$inv_port" "$notif_port"; do wait_port "$p" || exit 2; done
[ "$payment" = bus ] || wait_port "$grpc_port" || exit 2

# Debian's Prometheus beside the demo, when installed (make deps installs it): it scrapes ferryd
# and the services every second with the project's alert rules loaded; after the run,
# prometheus_check.py checks every target was up, every rule evaluated and every query of the
# Grafana dashboard valid (deploy/).
prom_targets=0
if command -v prometheus >/dev/null; then
  services="\"127.0.0.1:$order_port\", \"127.0.0.1:$inv_port\", \"127.0.0.1:$notif_port\""
  prom_targets=3
  {
    printf 'global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n'
    printf 'rule_files:\n  - %s\n' "$here/../../deploy/prometheus/ferry-rules.yml"
    printf 'scrape_configs:\n  - job_name: ferry-services\n    static_configs:\n      - targets: [%s]\n' "$services"
    if [ "$transport" = nats ]; then
      printf '  - job_name: ferryd\n    static_configs:\n      - targets: ["127.0.0.1:%s"]\n' "$mon_port"
    fi
  } >"$work/prometheus.yml"
  [ "$transport" = nats ] && prom_targets=4
  echo "== prometheus on http://127.0.0.1:$prom_port scraping $prom_targets targets every second"
  start prometheus --config.file="$work/prometheus.yml" --storage.tsdb.path="$work/prometheus" \
    --web.listen-address="127.0.0.1:$prom_port" --log.level=warn
  wait_port "$prom_port" || exit 2
else
  echo "== prometheus is not installed (make deps installs it): the Prometheus checks are SKIPPED"
fi

: >"$work/load.out"  # before the tail opens it
"$bin/shop-load" --server "$url" --orders "$orders" --rate "$rate" --order-url "http://127.0.0.1:$order_port" \
  --inventory-url "http://127.0.0.1:$inv_port" --notification-url "http://127.0.0.1:$notif_port" \
  >"$work/load.out" 2>&1 &
load=$!
tail -n +1 -s 0.1 -f --pid="$load" "$work/load.out" &
tailer=$!

# crash NAME PERCENT PORT WHAT ARGS...: once shop-load has posted PERCENT of the orders, SIGKILL
# to shop-NAME, and a restart (with ARGS) a second later.
killed=0
crash() {
  local name=$1 pct=$2 what=$3; shift 3
  while kill -0 "$load" 2>/dev/null && ! grep -q "^\[ *$pct%\]" "$work/load.out"; do sleep 0.02; done
  kill -0 "$load" 2>/dev/null || return 0
  kill -KILL "${pid[$name]}"
  wait "${pid[$name]}" 2>/dev/null
  killed=$((killed + 1))
  echo "== SIGKILL to $name-service (pid ${pid[$name]}) at $pct% of the orders: $what; restarting it in 1 s"
  sleep 1
  echo "---- restarted after SIGKILL ----" >>"$work/$name.log"
  start "$name" "$@"
  echo "== $name-service restarted (pid ${pid[$name]})"
}
if [ "$kill" = 1 ]; then
  crash order 30 "orders it accepted may still be in its outbox; clients retry their POSTs" --http "$order_port"
  crash inventory 60 "sagas in flight; each resumes from its row, its timer still set" --http "$inv_port" \
    "${inventory_args[@]}"
fi
wait "$load"
status=$?
wait "$tailer" 2>/dev/null
if [ "$kill" = 1 ] && [ "$killed" != 2 ] && [ "$status" = 0 ]; then
  echo "run_shop.sh: shop-load ended before order- and inventory-service could both be killed" >&2
  status=1
fi
if [ "$prom_targets" != 0 ]; then
  required=(--require 'sum(ferry_handler_acked_total)' --require 'sum(ferry_outbox_published_total)')
  [ "$transport" = nats ] && required+=(--require 'sum(ferryd_in_msgs_total)' --require 'sum(ferryd_stream_messages)')
  python3 "$here/prometheus_check.py" --url "http://127.0.0.1:$prom_port" --targets "$prom_targets" \
    --dashboard "$here/../../deploy/grafana/ferry-dashboard.json" "${required[@]}" || status=1
fi
if [ ${#otlp_args[@]} != 0 ]; then
  stop order inventory payment notification  # each sends what it still holds as it stops
  python3 "$here/otlp_collector.py" check "$work/otlp" "$js_dir" "${grpc_checks[@]}" || status=1
fi

if [ "$show" = 1 ]; then
  echo
  if [ "$transport" = nats ]; then
    echo "== dead letters (ferry dlq ls DLQ)"
    FERRY_SERVER=$url "$bin/ferry" dlq ls DLQ | sed 's/^/   /'
  elif [ "$transport" = kafka ]; then
    echo "== dead letters: the Kafka topics dlq.<service>, listed in the summary above"
  elif [ "$transport" = rabbitmq ]; then
    echo "== dead letters: the queue shop-dlq.dlq.> (bound to dlq.#), listed in the summary above"
  else
    echo "== dead letters: the Redis streams dlq.<service>, listed in the summary above"
    echo "   (whole, while the run lasts: redis-cli -p $nats_port XRANGE dlq.inventory - +)"
  fi
  trace=$(sed -n 's/.*order \([^ ]*\) created .*\[trace \([0-9a-f]*\)\].*/\2/p' "$work/order.log" | head -n 1)
  echo
  echo "== one order's trace ($trace), as each service logged it"
  grep -h "$trace" "$work"/{order,inventory,payment,notification}.log | sort | cut -c 12- | sed 's/^/   /'
fi
exit "$status"
