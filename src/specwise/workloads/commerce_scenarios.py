"""Conversation scenarios of the commerce workload: customers, orders, items and dialogues.

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
    SEARCH_SCHEMA,
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


def nice_price(x: float) -> int:
    return max(10, round(x / 10.0) * 10)


# ---- search_params ----------------------------------------------------------------------

PRE_ATTRS = {
    "color", "material", "type", "style", "lens", "fit", "width", "capacity", "thickness",
    "connectivity",
}  # fmt: skip


def item_phrase(noun: str, brands: list[str], attrs: dict[str, str], d: Draw) -> str:
    """'grey 35L Packhaus backpack with lumbar support' style product words."""
    pre = [v for k, v in attrs.items() if k in PRE_ATTRS or k == "wheel_size"]
    post = [f" in size {v}" if k == "size" else f" with {v}" for k, v in attrs.items()]
    post = [p for p, k in zip(post, attrs, strict=True) if k not in PRE_ATTRS and k != "wheel_size"]
    if len(brands) == 1 and d.chance(0.5):
        pre.append(brands[0])
    elif brands:
        post.append(" from " + " or ".join(brands))
    return article(" ".join([*pre, noun])) + "".join(post)


def search_intent(d: Draw) -> tuple[dict[str, Any], str]:
    """The SearchParams a query means, and the query itself."""
    cat = d.any(CATEGORIES)
    noun = d.any(cat.nouns)
    names = d.rng.sample(list(cat.attributes), k=d.rng.choice((0, 1, 1, 2)))
    attrs = {name: d.any(cat.attributes[name]) for name in names}
    brands = d.rng.sample(cat.brands, k=d.rng.choices((0, 1, 2), (0.45, 0.4, 0.15))[0])
    lo, hi = cat.price
    cap = nice_price(d.rng.uniform(lo + 0.3 * (hi - lo), hi))
    floor = nice_price(d.rng.uniform(lo, lo + 0.3 * (hi - lo)))
    mode = d.rng.choices(("none", "under", "between", "over"), (0.35, 0.4, 0.15, 0.1))[0]
    phrase = {"none": ("",), "under": T.PRICE_UNDER, "between": T.PRICE_BETWEEN}
    price = d.any(phrase.get(mode, T.PRICE_OVER)).format(lo=floor, hi=cap)
    sort = d.rng.choices(
        ("relevance", "price_asc", "rating", "newest", "price_desc"), (0.55, 0.15, 0.15, 0.08, 0.07)
    )[0]
    in_stock = d.chance(0.2)
    extras = (d.any(T.SORT_PHRASES[sort]) if sort != "relevance" else "") + (
        d.any(T.STOCK_PHRASES) if in_stock else ""
    )
    query = d.pick(T.SEARCH_QUERIES).format(
        item=item_phrase(noun, brands, attrs, d), price=price, extras=extras
    )
    params: dict[str, Any] = {"category": cat.key, "keywords": noun}
    if brands:
        params["brands"] = brands
    if mode in ("between", "over"):
        params["price_min"] = floor
    if mode in ("between", "under"):
        params["price_max"] = cap
    if attrs:
        params["attributes"] = attrs
    params["sort"] = sort
    if in_stock:
        params["in_stock_only"] = True
    return params, query


def refine(d: Draw, params: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """A follow-up that changes one thing of an earlier search, and the updated params."""
    cat = next(c for c in CATEGORIES if c.key == params["category"])
    new = json.loads(json.dumps(params))
    what = d.any(("price", "brand", "color", "sort"))
    if what == "color" and "color" not in cat.attributes:
        what = "price"
    if what == "price":
        hi = nice_price(0.8 * params.get("price_max", cat.price[1]))
        new["price_max"] = hi
        if new.get("price_min", 0) >= hi:
            del new["price_min"]
        return new, d.pick(T.REFINE_PRICE).format(hi=hi)
    if what == "brand":
        brand = d.any([b for b in cat.brands if b not in params.get("brands", [])])
        new["brands"] = [brand]
        return new, d.pick(T.REFINE_BRAND).format(brand=brand)
    if what == "color":
        old = params.get("attributes", {}).get("color")
        color = d.any([c for c in cat.attributes["color"] if c != old])
        new["attributes"] = {**params.get("attributes", {}), "color": color}
        return new, d.pick(T.REFINE_COLOR).format(value=color)
    sort = d.any([s for s in T.SORT_PHRASES if s != params["sort"]])
    new["sort"] = sort
    return new, d.pick(T.REFINE_SORT).format(sort=d.any(T.SORT_PHRASES[sort]))


def search_scenario(d: Draw, c: Customer) -> Scenario:
    params, query = search_intent(d)
    turns = [user(query)]
    name = "search"
    if d.chance(0.35):
        new, follow = refine(d, params)
        turns += [assistant(json_line(params)), user(follow)]
        params, name = new, "search_refined"
    expected = json_line({k: params[k] for k in SEARCH_SCHEMA["properties"] if k in params})
    return Scenario("search_params", name, turns, expected, {"schema": SEARCH_SCHEMA["title"]})


# ---- tool_call ----------------------------------------------------------------------------


def order_slots(order: dict[str, Any]) -> dict[str, str]:
    return {"order_id": order["order_id"], "placed": order["placed"]}


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


# ---- answer -------------------------------------------------------------------------------


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


def status_followup(d: Draw, c: Customer) -> Scenario:
    order = new_order(d, c)
    turns = [user(d.pick(T.STATUS_ASK).format(**order_slots(order)))]
    turns += tool_exchange("get_order_status", {"order_id": order["order_id"]}, order, 1)
    expected = status_answer(d, c, order)
    if d.chance(0.4):
        turns += [assistant(expected), user(d.pick(T.STATUS_FOLLOWUP))]
        expected = eta_answer(c, order)
    return Scenario("answer", "status_followup", turns, expected)


WARRANTY = {
    "headphones": "1-year",
    "smartwatches": "1-year",
    "office_chairs": "2-year",
    "cookware": "2-year",
    "running_shoes": "6-month",
    "hiking_boots": "6-month",
    "rain_jackets": "6-month",
}


def policy_answer(topic: str, c: Customer, slots: dict[str, Any], asked: str) -> str:
    window = 60 if c.tier == "gold" else 30
    free_returns = c.tier in ("silver", "gold")
    if topic == "return_window":
        lead = f"Hi {c.first}, you can return unused items in their original packaging within "
        text = lead + f"{window} days of delivery; final-sale items are the exception. "
        if "{days}" in asked:
            ok = slots["days"] <= window
            text = (
                f"{'Yes' if ok else 'Unfortunately not'}, {c.first}: your return window is "
                f"{window} days from delivery, and {slots['days']} days is "
                f"{'within' if ok else 'past'} it. "
            )
        fee = "free for you" if free_returns else "$6.95 unless the item is damaged or defective"
        return (
            text + f"Return shipping is {fee}, and I can start the return with your order number."
        )
    if topic == "refund_time":
        return (
            f"Hi {c.first}, refunds go to your original payment method within 5 business days "
            "after the return reaches our warehouse, and your bank may take another 3 to 5 "
            "business days to show it. If you prefer store credit, it is issued right away."
        )
    if topic == "shipping":
        where = f" to {c.address['city']}" if "{city}" in asked else ""
        if c.tier == "gold":
            return (
                f"As a gold member you get free express shipping{where}, {c.first}: 1 to 2 "
                "business days, and orders placed before 2 pm Eastern ship the same day."
            )
        return (
            f"Standard shipping{where} takes 3 to 5 business days and is free on orders over $50 "
            f"($5.95 otherwise), {c.first}; express takes 1 to 2 business days for $14.95. Orders "
            "placed before 2 pm Eastern ship the same business day."
        )
    if topic == "international":
        where = slots["country"] if "{country}" in asked else "outside the US"
        return (
            f"Sorry {c.first}, we only ship within the 50 US states for now, so we can't deliver "
            f"{'to ' if where != 'outside the US' else ''}{where} yet."
        )
    if topic == "price_match":
        return (
            f"If our own price drops within 14 days of your purchase, we refund the difference, "
            f"{c.first}: just send me the order number. We don't match other retailers' prices."
        )
    if topic == "warranty":
        return (
            f"{slots['noun_plural'].capitalize()} carry a {WARRANTY[slots['category']]} warranty "
            f"against defects, {c.first}. Warranty claims are handled by a human agent, who will "
            "reply by email within one business day."
        )
    rate = {"standard": "1", "silver": "1.5", "gold": "2"}[c.tier]
    perks = {
        "standard": "Silver and gold members also get free returns, and gold adds free express "
        "shipping and a 60-day return window.",
        "silver": "You also get free returns; gold adds free express shipping and a 60-day "
        "return window.",
        "gold": "You also get free returns, free express shipping and a 60-day return window.",
    }[c.tier]
    return (
        f"As a {c.tier} member you earn {rate} points per dollar, {c.first}, and 100 points are "
        f"worth $5. {perks}"
    )


def plural(noun: str) -> str:
    return noun if noun.endswith("s") and not noun.endswith("ss") else noun + "s"


def policy_question(d: Draw, c: Customer) -> Scenario:
    topic = d.any(sorted(T.POLICY_QUESTIONS))
    covered = [cat for cat in CATEGORIES if topic != "warranty" or cat.key in WARRANTY]
    cat = d.any(covered)
    noun = d.any(cat.nouns)
    slots = {
        "a_noun": article(noun),
        "noun": noun,
        "noun_plural": plural(noun),
        "category": cat.key,
        "days": d.rng.randrange(3, 75),
        "city": c.address["city"],
        "country": d.any(T.COUNTRIES),
        "tier": c.tier,
    }
    asked = d.pick(T.POLICY_QUESTIONS[topic])
    expected = policy_answer(topic, c, slots, asked)
    text = lead_in(d) + asked.format(**slots)
    return Scenario("answer", f"policy_{topic}", [user(text)], expected)


def product_facts(d: Draw, item: Item) -> dict[str, Any]:
    """A get_product_details result: variants in stock per attribute."""
    in_stock = {
        name: sorted(d.rng.sample(values, k=d.rng.randrange(1, len(values) + 1)))
        for name, values in item.category.attributes.items()
    }
    return {
        "sku": item.sku,
        "name": f"{item.brand} {item.noun}",
        "price": item.price,
        "rating": round(d.rng.uniform(3.4, 4.9), 1),
        "reviews": d.rng.randrange(3, 2400),
        "in_stock": in_stock,
        "warranty": WARRANTY.get(item.category.key, "1-year").replace("-", " "),
    }


def product_followup(d: Draw, c: Customer) -> Scenario:
    item = new_item(d)
    facts = product_facts(d, item)
    ask = d.pick(T.PRODUCT_ASK).format(sku=item.sku, brand=item.brand, noun=item.noun)
    turns = [user(ask), *tool_exchange("get_product_details", {"sku": item.sku}, facts, 1)]
    index, follow = d.pick(list(enumerate(T.PRODUCT_FOLLOWUP)))
    turns.append(user(follow))
    name, stock = facts["name"], facts["in_stock"]
    sizes = next((k for k in ("size", "capacity", "wheel_size", "thickness") if k in stock), None)
    if index == 0 and "color" in stock:
        expected = f"The {name} is in stock in {', '.join(stock['color'])} right now, {c.first}."
    elif index == 1 or (index == 0 and "color" not in stock):
        expected = (
            f"The {name} costs ${facts['price']:.2f} and is rated {facts['rating']} out of 5 from "
            f"{facts['reviews']} reviews, {c.first}, so most buyers are happy with it."
        )
    elif index == 2 and sizes:
        expected = (
            f"Right now the {name} is in stock in {sizes.replace('_', ' ')} "
            f"{', '.join(stock[sizes])}, {c.first}."
        )
    else:
        expected = (
            f"The {name} comes with a {facts['warranty']} warranty against defects, {c.first}."
        )
    return Scenario("answer", "product_followup", turns, expected)


def return_followup(d: Draw, c: Customer) -> Scenario:
    reason = d.any(sorted(T.RETURN_REASON_TEXT))
    order = new_order(d, c, status="delivered")
    item: Item = d.any(order["_items"])
    ask = d.pick(T.RETURN_ASK).format(
        item_name=item.name, reason_text=d.any(T.RETURN_REASON_TEXT[reason])
    )
    turns = [user(f"{ask} Order {order['order_id']}.")]
    turns += tool_exchange("get_order_status", {"order_id": order["order_id"]}, order, 1)
    free = c.tier != "standard" or reason in ("damaged", "not_as_described")
    fee = 0.0 if free else 6.95
    result = {
        "return_id": f"R-{d.rng.randrange(10**6):06d}",
        "label_sent_to": "email on file",
        "return_shipping_fee": fee,
        "refund_estimate": round(item.price - fee, 2),
    }
    call = {"order_id": order["order_id"], "sku": item.sku, "reason": reason}
    turns += tool_exchange("start_return", call, result, 2)
    turns.append(
        assistant(
            f"Done, {c.first}: return {result['return_id']} is open and a prepaid label is on "
            "its way to your email."
        )
    )
    index, follow = d.pick(list(enumerate(T.RETURN_FOLLOWUP)))
    turns.append(user(follow))
    refund = f"${result['refund_estimate']:.2f}"
    expected = [
        f"Print the label from your email within the next hour, pack the {item.name} in its "
        f"original packaging and drop it off with any carrier, {c.first}. Once it reaches our "
        f"warehouse, we refund {refund} within 5 business days.",
        f"We refund {refund} to your original payment method within 5 business days after the "
        f"return arrives, {c.first}; your bank may take another 3 to 5 business days to show it.",
        f"Return shipping is {'free' if free else '$6.95, already deducted from your refund'} "
        f"for this return, {c.first}, so you will get {refund} back.",
        f"The prepaid label was sent to the email address on your account, {c.first}; it should "
        "arrive within one hour, so please check your spam folder too.",
    ][index]
    return Scenario("answer", "return_followup", turns, expected)


ANSWER_SCENARIOS = (
    (status_followup, 0.3),
    (policy_question, 0.35),
    (product_followup, 0.2),
    (return_followup, 0.15),
)
