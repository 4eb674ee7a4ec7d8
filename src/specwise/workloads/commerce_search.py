"""search_params scenarios: a shopper's query (and maybe a refinement) -> SearchParams JSON."""

from __future__ import annotations

import json
from typing import Any

from specwise.workloads import commerce_templates as T
from specwise.workloads.commerce_data import (
    CATEGORIES,
    SEARCH_SCHEMA,
)
from specwise.workloads.commerce_world import (
    Customer,
    Draw,
    Scenario,
    article,
    assistant,
    json_line,
    user,
)


def nice_price(x: float) -> int:
    return max(10, round(x / 10.0) * 10)


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
