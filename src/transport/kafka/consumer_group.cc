// The subscription's group membership: commits, and partitions assigned and revoked.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "transport/kafka/consumer.h"

namespace ferry::kafka::detail {

void consumer::commit(bool sync, const std::vector<std::shared_ptr<assigned_partition>>& parts) {
  partitions_ptr list(rd_kafka_topic_partition_list_new(static_cast<int>(parts.size())));
  {
    std::lock_guard lock(d_->mu);
    for (const auto& part : parts) {
      if (part->revoked) continue;
      // A partition about to go is committed whatever was sent before: an asynchronous commit of
      // the same position may have failed without its answer served yet.
      if (auto pos = sync ? part->window.position() : part->window.commit_position()) {
        rd_kafka_topic_partition_list_add(list.get(), part->topic.c_str(), part->partition)->offset = *pos;
        part->window.committed(*pos);
      }
    }
  }
  if (list->cnt == 0) return;
  const rd_kafka_resp_err_t err = rd_kafka_commit(rk_, list.get(), sync ? 0 : 1);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) on_commit(rk_, err, list.get(), this);
}

void consumer::commit_all() {
  std::vector<std::shared_ptr<assigned_partition>> all;
  all.reserve(parts_.size());
  for (auto& [k, p] : parts_) all.push_back(p.part);
  commit(false, all);
}

void consumer::on_commit(rd_kafka_t*, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* offsets, void* opaque) {
  if (err == RD_KAFKA_RESP_ERR_NO_ERROR || err == RD_KAFKA_RESP_ERR__NO_OFFSET) return;
  auto* self = static_cast<consumer*>(opaque);
  spdlog::warn("kafka: group {}: committing offsets of {} failed: {} (committed again later)", self->config_.group,
               self->config_.topic, rd_kafka_err2str(err));
  std::lock_guard lock(self->d_->mu);
  for (int i = 0; offsets != nullptr && i < offsets->cnt; ++i) {
    auto it = self->parts_.find({offsets->elems[i].topic, offsets->elems[i].partition});
    if (it != self->parts_.end()) it->second.part->window.committed(-1);  // differs from any position: retried
  }
}

void consumer::on_rebalance(rd_kafka_t* rk, rd_kafka_resp_err_t err, rd_kafka_topic_partition_list_t* parts,
                            void* opaque) {
  auto* self = static_cast<consumer*>(opaque);
  const bool cooperative = std::strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
  rd_kafka_error_t* e = nullptr;
  if (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS) {
    self->ever_assigned_ = true;
    self->assigned(parts);
    if (cooperative) {
      e = rd_kafka_incremental_assign(rk, parts);
    } else {
      rd_kafka_assign(rk, parts);
    }
  } else {
    self->revoked(parts, rd_kafka_assignment_lost(rk) != 0);
    if (cooperative) {
      e = rd_kafka_incremental_unassign(rk, parts);
    } else {
      rd_kafka_assign(rk, nullptr);
    }
  }
  if (e != nullptr) {
    spdlog::warn("kafka: group {}: rebalance: {}", self->config_.group, rd_kafka_error_string(e));
    rd_kafka_error_destroy(e);
  }
}

void consumer::assigned(const rd_kafka_topic_partition_list_t* parts) {
  for (int i = 0; i < parts->cnt; ++i) add_partition(parts->elems[i].topic, parts->elems[i].partition, std::nullopt);
  spdlog::debug("kafka: group {}: {} partition(s) of {} assigned", config_.group, parts->cnt, config_.topic);
}

void consumer::revoked(const rd_kafka_topic_partition_list_t* parts, bool lost) {
  std::vector<std::shared_ptr<assigned_partition>> going;
  for (int i = 0; i < parts->cnt; ++i) {
    auto it = parts_.find({parts->elems[i].topic, parts->elems[i].partition});
    if (it != parts_.end()) going.push_back(it->second.part);
  }
  if (!lost && !closing_) {
    // Let the handlers finish what they hold of these partitions, up to revoke_timeout.
    d_->revoking.store(true);
    std::unique_lock lock(d_->mu);
    d_->settled.wait_for(lock, options_.revoke_timeout, [&] {
      return std::all_of(going.begin(), going.end(), [](const auto& p) { return p->window.unsettled() == 0; });
    });
    d_->revoking.store(false);
  }
  if (!lost) commit(true, going);
  for (const auto& part : going) remove_partition({part->topic, part->partition});
  spdlog::debug("kafka: group {}: {} partition(s) of {} revoked{}", config_.group, parts->cnt, config_.topic,
                lost ? " (lost)" : "");
}

}  // namespace ferry::kafka::detail
