"""tool_call scenarios: order status, changes, returns, exchanges, product and order lookups."""

from __future__ import annotations

from typing import Any

from specwise.workloads import commerce_templates as T
from specwise.workloads.commerce_data import (
    CITIES,
    STREETS,
)
from specwise.workloads.commerce_world import (
    Customer,
    Draw,
    Item,
    Scenario,
    article,
    assistant,
    call_scenario,
    lead_in,
    new_item,
    new_order,
    order_slots,
    status_answer,
    tool_exchange,
    user,
)


def status_direct(d: Draw, c: Customer) -> Scenario:
    order = new_order(d, c)
    text = d.pick(T.STATUS_ASK).format(**order_slots(order))
    args = {"order_id": order["order_id"]}
    return call_scenario("status_direct", [user(text)], "get_order_status", args)


def status_clarified(d: Draw, c: Customer) -> Scenario:
    order = new_order(d, c)
    turns = [
        user(d.pick(T.STATUS_VAGUE)),
        assistant(d.pick(T.ASK_ORDER_ID).format(first=c.first)),
        user(d.pick(T.GIVE_ORDER_ID).format(order_id=order["order_id"])),
    ]
    return call_scenario("status_clarified", turns, "get_order_status", order_slots(order))


def cancel_scenario(d: Draw, c: Customer) -> Scenario:
    order = new_order(d, c, status="processing")
    why = d.any(T.CANCEL_WHY)
    if d.chance(0.6):
        text = d.pick(T.CANCEL_ASK).format(
            order_id=order["order_id"], why=why, Why=why.capitalize()
        )
        turns = [user(text)]
    else:
        turns = [
            user(d.pick(T.CANCEL_VAGUE).format(why=why)),
            assistant(d.pick(T.ASK_ORDER_ID).format(first=c.first)),
            user(d.pick(T.GIVE_ORDER_ID).format(order_id=order["order_id"])),
        ]
    args = {"order_id": order["order_id"], "reason": why}
    scenario = call_scenario("cancel", turns, "cancel_order", args)
    scenario.extra["loose_arguments"] = ["reason"]  # free text: compare loosely
    return scenario


def address_change(d: Draw, c: Customer) -> Scenario:
    order = new_order(d, c, status="processing")
    city, state, zip3 = d.any(CITIES)
    address = {
        "line1": f"{d.rng.randrange(2, 9900)} {d.any(STREETS)}",
        "city": city,
        "state": state,
        "postal_code": f"{zip3}{d.rng.randrange(10, 99)}",
    }
    spoken = f"{address['line1']}, {city}, {state} {address['postal_code']}"
    text = d.pick(T.ADDRESS_CHANGE).format(order_id=order["order_id"], address=spoken)
    args = {"order_id": order["order_id"], "address": address}
    return call_scenario("address_change", [user(text)], "update_shipping_address", args)


def payment_change(d: Draw, c: Customer) -> Scenario:
    order = new_order(d, c, status="processing")
    last4 = d.any(c.cards)
    text = d.pick(T.PAYMENT_CHANGE).format(order_id=order["order_id"], last4=last4)
    args = {"order_id": order["order_id"], "card_last4": last4}
    return call_scenario("payment_change", [user(text)], "update_payment_method", args)


def product_lookup(d: Draw, c: Customer) -> Scenario:
    item = new_item(d)
    text = d.pick(T.PRODUCT_ASK).format(sku=item.sku, brand=item.brand, noun=item.noun)
    return call_scenario("product_lookup", [user(text)], "get_product_details", {"sku": item.sku})


def list_lookup(d: Draw, c: Customer) -> Scenario:
    item = new_item(d)
    text = lead_in(d) + d.pick(T.LIST_ASK).format(a_noun=article(item.noun), noun=item.noun)
    args = {"customer_id": c.id, "limit": 5}
    return call_scenario("list_orders", [user(text)], "list_orders", args)


def looked_up(d: Draw, c: Customer, text: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A delivered order the customer asked about: user turn, lookup call, result, summary."""
    order = new_order(d, c, status="delivered")
    args = {"order_id": order["order_id"]}
    turns = [user(text.format(**order_slots(order)))]
    turns += tool_exchange("get_order_status", args, order, 1)
    turns.append(assistant(status_answer(d, c, order)))
    return order, turns


def return_after_lookup(d: Draw, c: Customer) -> Scenario:
    order, turns = looked_up(d, c, d.pick(T.STATUS_ASK))
    item: Item = d.any(order["_items"])
    reason = d.any(sorted(T.RETURN_REASON_TEXT))
    reason_text = d.any(T.RETURN_REASON_TEXT[reason])
    turns.append(user(d.pick(T.RETURN_ASK).format(item_name=item.name, reason_text=reason_text)))
    args = {"order_id": order["order_id"], "sku": item.sku, "reason": reason}
    return call_scenario("return_after_lookup", turns, "start_return", args)


def exchange_after_lookup(d: Draw, c: Customer) -> Scenario:
    order, turns = looked_up(d, c, d.pick(T.STATUS_ASK))
    item: Item = d.any(order["_items"])
    attr = "size" if "size" in item.attrs else d.any(sorted(item.attrs))
    value = d.any([v for v in item.category.attributes[attr] if v != item.attrs[attr]])
    text = d.pick(T.EXCHANGE_ASK).format(
        item_name=item.name, attr=attr.replace("_", " "), value=value
    )
    turns.append(user(text))
    args = {"order_id": order["order_id"], "sku": item.sku, "new_variant": {attr: value}}
    return call_scenario("exchange_after_lookup", turns, "start_exchange", args)


TOOL_SCENARIOS = (
    (status_direct, 0.18),
    (status_clarified, 0.08),
    (cancel_scenario, 0.12),
    (address_change, 0.1),
    (payment_change, 0.08),
    (product_lookup, 0.12),
    (list_lookup, 0.08),
    (return_after_lookup, 0.13),
    (exchange_after_lookup, 0.11),
)
