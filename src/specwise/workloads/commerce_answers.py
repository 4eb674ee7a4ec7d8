"""answer scenarios: prose after tool results, and store-policy questions."""

from __future__ import annotations

from typing import Any

from specwise.workloads import commerce_templates as T
from specwise.workloads.commerce_data import (
    CATEGORIES,
)
from specwise.workloads.commerce_world import (
    Customer,
    Draw,
    Item,
    Scenario,
    article,
    assistant,
    eta_answer,
    lead_in,
    new_item,
    new_order,
    order_slots,
    plural,
    status_answer,
    tool_exchange,
    user,
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
