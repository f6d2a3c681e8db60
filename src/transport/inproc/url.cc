// inproc:// URLs (include/ferry/inproc.h, connect_url).
#include "ferry/inproc.h"

namespace ferry::inproc {

result<std::unique_ptr<transport>> connect_url(const transport_url& url) {
  if (!url.hosts.empty()) {
    return invalid_argument("inproc://" + url.hosts + ": the in-process bus has no hosts (use inproc://)");
  }
  url_params p(url);
  options o;
  FERRY_ASSIGN_OR_RETURN(auto workers, p.integer("workers", 0, 4096));
  if (workers) o.workers = static_cast<std::size_t>(*workers);
  FERRY_ASSIGN_OR_RETURN(auto capacity, p.integer("queue_capacity", 1, 1LL << 30));
  if (capacity) o.queue_capacity = static_cast<std::size_t>(*capacity);
  FERRY_ASSIGN_OR_RETURN(auto batch, p.integer("batch", 1, 1LL << 20));
  if (batch) o.batch = static_cast<std::size_t>(*batch);
  if (auto v = p.text("when_full")) {
    if (*v != "block" && *v != "fail")
      return invalid_argument("inproc option when_full=\"" + *v + "\" is not block or fail");
    o.when_full = *v == "block" ? overflow::block : overflow::fail;
  }
  FERRY_ASSIGN_OR_RETURN(auto block, p.duration("block_timeout"));
  if (block) o.block_timeout = *block;
  FERRY_ASSIGN_OR_RETURN(auto close, p.duration("close_timeout"));
  if (close) o.close_timeout = *close;
  FERRY_RETURN_IF_ERROR(p.finish());
  return make_transport(o);
}

}  // namespace ferry::inproc
