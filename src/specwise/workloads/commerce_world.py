"""The commerce world: random draws, customers, items, orders, message shapes, order summaries.

A scenario is the conversation after the system prompt (1–3 user turns, the agent's earlier
replies and tool results) plus the reply the agent is expected to give next.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from specwise.workloads import commerce_templates as T
from specwise.workloads.commerce_data import (
    CARRIERS,
    CATEGORIES,
    CITIES,
    FIRST_NAMES,
    LAST_NAMES,
    STREETS,
    TIERS,
    Category,
)

EPOCH = date(2026, 1, 1)


def json_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False)


@dataclass
class Draw:
    """The random source of one workload; `pick` honours the split's template half."""

    rng: random.Random
    split: str

    def pick(self, options: Sequence[Any]) -> Any:
        if self.split == "all":
            return self.rng.choice(options)
        return self.rng.choice(options[0 if self.split == "train" else 1 :: 2])

    def any(self, options: Sequence[Any]) -> Any:
        """A choice that is not a template (catalogue facts): shared by both splits."""
        return self.rng.choice(options)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p


@dataclass
class Customer:
    id: str
    first: str
    last: str
    tier: str
    address: dict[str, str]
    cards: tuple[str, ...]
    today: date


@dataclass
class Item:
    sku: str
    brand: str
    noun: str
    category: Category
    attrs: dict[str, str]
    price: float

    @property
    def name(self) -> str:
        color = self.attrs.get("color")
        return f"{color} {self.noun}" if color else self.noun


@dataclass
class Scenario:
    kind: str
    name: str
    turns: list[dict[str, Any]]
    expected: str
    extra: dict[str, Any] = field(default_factory=dict)


def new_customer(d: Draw) -> Customer:
    parity = {"train": 0, "eval": 1}.get(d.split, d.rng.randrange(2))
    city, state, zip3 = d.any(CITIES)
    address = {
        "line1": f"{d.rng.randrange(2, 9900)} {d.any(STREETS)}",
        "city": city,
        "state": state,
        "postal_code": f"{zip3}{d.rng.randrange(10, 99)}",
    }
    cards = tuple(f"{d.rng.randrange(10000):04d}" for _ in range(d.rng.randrange(1, 4)))
    return Customer(
        id=f"C-{2 * d.rng.randrange(5000, 50000) + parity}",
        first=d.pick(FIRST_NAMES),
        last=d.any(LAST_NAMES),
        tier=d.any(TIERS),
        address=address,
        cards=cards,
        today=EPOCH + timedelta(days=d.rng.randrange(365)),
    )


def session_block(c: Customer) -> str:
    cards = ", ".join(f"card ending {x}" for x in c.cards)
    a = c.address
    return (
        f"# Session\nToday: {c.today.isoformat()}\nCustomer: {c.first} {c.last}, id {c.id}, "
        f"{c.tier} member\nDefault address: {a['line1']}, {a['city']}, {a['state']} "
        f"{a['postal_code']}\nSaved payment: {cards}"
    )


def new_item(d: Draw, category: Category | None = None) -> Item:
    cat = category or d.any(CATEGORIES)
    brand = d.any(cat.brands)
    lo, hi = cat.price
    return Item(
        sku=f"{cat.code}-{brand[:2].upper()}-{d.rng.randrange(1000, 10000)}",
        brand=brand,
        noun=d.any(cat.nouns),
        category=cat,
        attrs={name: d.any(values) for name, values in cat.attributes.items()},
        price=round(d.rng.uniform(lo, hi)) - 0.01,
    )


def new_order(d: Draw, c: Customer, status: str | None = None) -> dict[str, Any]:
    """A tool result of get_order_status: the order of this session's customer."""
    placed = c.today - timedelta(days=d.rng.randrange(1, 25))
    status = status or d.any(("processing", "shipped", "out_for_delivery", "delivered"))
    items = [new_item(d) for _ in range(d.rng.randrange(1, 4))]
    order: dict[str, Any] = {
        "order_id": f"A-{d.rng.randrange(10**7):07d}",
        "status": status,
        "placed": placed.isoformat(),
        "items": [
            {"sku": i.sku, "name": f"{i.brand} {i.noun}", **i.attrs, "price": i.price}
            for i in items
        ],
    }
    if status != "processing":
        order["carrier"] = d.any(CARRIERS)
        order["tracking"] = f"1Z{d.rng.randrange(10**12):012d}"
        order["eta"] = (placed + timedelta(days=d.rng.randrange(3, 8))).isoformat()
    order["_items"] = items  # dropped before serialising
    return order


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": text}


def assistant(text: str) -> dict[str, Any]:
    return {"role": "assistant", "content": text}


def tool_call_text(name: str, arguments: dict[str, Any]) -> str:
    return json_line({"tool": name, "arguments": arguments})


def tool_exchange(name: str, arguments: dict[str, Any], result: dict[str, Any], n: int) -> list:
    """The agent's text tool call and the tool's reply (OpenAI `tool` role message)."""
    public = {k: v for k, v in result.items() if not k.startswith("_")}
    return [
        assistant(tool_call_text(name, arguments)),
        {"role": "tool", "tool_call_id": f"call_{n}", "name": name, "content": json_line(public)},
    ]


def call_scenario(name: str, turns: list, tool: str, arguments: dict[str, Any]) -> Scenario:
    extra = {"expected_tool": tool, "expected_arguments": arguments}
    return Scenario("tool_call", name, turns, tool_call_text(tool, arguments), extra)


def article(noun: str) -> str:
    """'a backpack', 'an espresso machine', 'running shoes' (plural nouns take none)."""
    if noun.endswith("s") and not noun.endswith("ss"):
        return noun
    return ("an " if noun[0] in "aeiou" else "a ") + noun


def lead_in(d: Draw) -> str:
    """An opener for half of the first user turns: '' or e.g. 'Before I buy a yoga mat: '."""
    if not d.chance(0.5):
        return ""
    return d.pick(T.LEAD_INS).format(a_noun=article(new_item(d).noun))


def order_slots(order: dict[str, Any]) -> dict[str, str]:
    return {"order_id": order["order_id"], "placed": order["placed"]}


def status_answer(d: Draw, c: Customer, order: dict[str, Any]) -> str:
    oid, status = order["order_id"], order["status"]
    if status == "processing":
        return (
            f"Hi {c.first}, order {oid} is still being prepared and should ship within one "
            "business day; standard delivery then takes 3 to 5 business days. I'll be glad to "
            "help if you want to change anything before it ships."
        )
    carrier, tracking, eta = order["carrier"], order["tracking"], order["eta"]
    if status == "shipped":
        return (
            f"Good news, {c.first}: order {oid} has shipped with {carrier} (tracking number "
            f"{tracking}) and should arrive by {eta}."
        )
    if status == "out_for_delivery":
        return (
            f"Hi {c.first}, order {oid} is out for delivery with {carrier} today, so it should "
            f"reach you by this evening. The tracking number is {tracking}."
        )
    return (
        f"Hi {c.first}, {carrier} marked order {oid} as delivered (tracking {tracking}). If you "
        "can't find the parcel, please check with neighbours; if it is still missing after 48 "
        "hours, I can send a replacement or refund it in full."
    )


def eta_answer(c: Customer, order: dict[str, Any]) -> str:
    oid, status = order["order_id"], order["status"]
    if status == "processing":
        return (
            f"Not yet, {c.first}: order {oid} should ship within one business day, and standard "
            "delivery then takes 3 to 5 business days."
        )
    if status == "delivered":
        return (
            f"It has already arrived, {c.first}: {order['carrier']} shows order {oid} as "
            "delivered. If you can't find it within 48 hours, I can replace or refund it."
        )
    return (
        f"It is on its way, {c.first}: it should arrive by {order['eta']}, and you can follow it "
        f"with {order['carrier']} using tracking number {order['tracking']}."
    )


def plural(noun: str) -> str:
    return noun if noun.endswith("s") and not noun.endswith("ss") else noun + "s"
