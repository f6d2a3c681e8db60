#include "payment_rules.h"

namespace shop {

charge_reply decide_charge(const charge_request& r) {
  charge_reply reply{.order_id = r.order_id};
  if (r.customer == blocked_customer) {
    reply.reason = "card declined";
  } else if (r.amount > max_charge) {
    reply.reason = "amount over limit";
  } else {
    reply.approved = true;
    reply.payment_id = "pay-" + r.order_id;
  }
  return reply;
}

}  // namespace shop
