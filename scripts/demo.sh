#!/usr/bin/env bash
# `make demo`: the shop of examples/shop on ferryd. Starts ferryd with JetStream and the order,
# inventory, payment and notification services, drives a few hundred orders through them with
# shop-load (progress every 10%), kills inventory-service with SIGKILL halfway and restarts it,
# then prints the summary (orders confirmed and cancelled, dead letters, duplicates suppressed,
# latency p50/p99, nothing lost), the dead letters and one order's trace across the services.
# Stops everything it started; exits non-zero if an order was lost or anything is inconsistent.
#
#   ORDERS=1000 RATE=100 make demo
#   make demo TRANSPORT=kafka      # the same shop on Kafka (a 3-broker ferry-kafka-mock)
#   make demo TRANSPORT=redis      # the same shop on Redis Streams (redis-server of its own)
#   make demo TRANSPORT=rabbitmq   # the same shop on RabbitMQ (a rabbitmq-server node of its own)
#   make demo PAYMENT=grpc         # inventory charges through payment-service's gRPC API: one
#                                  # trace across the events and the call
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash examples/shop/run_shop.sh --bin "${BUILD:-build}/bin" --transport "${TRANSPORT:-nats}" \
  --payment "${PAYMENT:-bus}" --orders "${ORDERS:-300}" --rate "${RATE:-30}" --show
