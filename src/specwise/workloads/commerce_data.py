"""The commerce agent's world: catalogue, customer names, store policy, tool and search schemas.

Everything here was written for specwise (fictional brands and store); nothing is copied from a
dataset. Phrasing templates live in `commerce_templates.py`; generation in `commerce.py`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Category:
    key: str  # the `category` enum value in SearchParams
    code: str  # SKU prefix
    nouns: tuple[str, ...]  # how shoppers name the product
    brands: tuple[str, ...]
    price: tuple[int, int]  # typical price band, USD
    attributes: dict[str, tuple[str, ...]]


CATEGORIES = (
    Category(
        "running_shoes",
        "RS",
        (
            "running shoes",
            "trail runners",
            "road running shoes",
            "racing flats",
            "running sneakers",
        ),
        ("Northwind", "Stridelab", "Kestrel", "Pacewell", "Tarnfoot"),
        (60, 220),
        {
            "color": ("black", "white", "blue", "neon green", "grey", "red"),
            "size": ("7", "8", "8.5", "9", "9.5", "10", "10.5", "11", "12"),
            "width": ("narrow", "regular", "wide"),
        },
    ),
    Category(
        "hiking_boots",
        "HB",
        ("hiking boots", "waterproof boots", "trekking boots", "mid-cut hikers"),
        ("Ridgeback", "Kestrel", "Alder & Pine", "Cairnworks"),
        (90, 280),
        {
            "color": ("brown", "olive", "black", "tan"),
            "size": ("7", "8", "9", "10", "11", "12", "13"),
            "material": ("leather", "synthetic", "suede"),
        },
    ),
    Category(
        "rain_jackets",
        "RJ",
        ("rain jacket", "shell jacket", "waterproof jacket", "packable rain coat"),
        ("Alder & Pine", "Ridgeback", "Drizzle Co", "Northwind"),
        (45, 320),
        {
            "color": ("yellow", "navy", "black", "forest green", "orange"),
            "size": ("XS", "S", "M", "L", "XL", "XXL"),
            "fit": ("slim", "regular", "relaxed"),
        },
    ),
    Category(
        "backpacks",
        "BP",
        ("backpack", "daypack", "laptop backpack", "travel pack", "hiking pack"),
        ("Cairnworks", "Satchelry", "Drizzle Co", "Packhaus", "Ridgeback"),
        (35, 240),
        {
            "color": ("black", "grey", "teal", "sand", "burgundy"),
            "capacity": ("15L", "20L", "28L", "35L", "45L"),
            "material": ("nylon", "canvas", "recycled polyester"),
        },
    ),
    Category(
        "headphones",
        "HP",
        ("headphones", "noise-cancelling headphones", "wireless earbuds", "over-ear headphones"),
        ("Sonique", "Arclight Audio", "Halden", "Basswell"),
        (25, 400),
        {
            "color": ("black", "silver", "white", "midnight blue"),
            "connectivity": ("bluetooth", "wired", "usb-c"),
            "style": ("over-ear", "on-ear", "in-ear"),
        },
    ),
    Category(
        "coffee_makers",
        "CM",
        (
            "coffee maker",
            "espresso machine",
            "drip coffee machine",
            "pour-over set",
            "coffee grinder",
        ),
        ("Brewhart", "Morrow Kitchen", "Caffè Lume", "Steamline"),
        (30, 650),
        {
            "color": ("stainless", "matte black", "cream", "red"),
            "capacity": ("1 cup", "4 cups", "8 cups", "12 cups"),
            "type": ("drip", "espresso", "burr grinder", "french press"),
        },
    ),
    Category(
        "office_chairs",
        "OC",
        ("office chair", "ergonomic chair", "desk chair", "gaming chair"),
        ("Postura", "Deskwell", "Halden", "Oakline"),
        (80, 900),
        {
            "color": ("black", "grey", "white", "navy"),
            "material": ("mesh", "fabric", "leather"),
            "feature": ("lumbar support", "adjustable arms", "headrest"),
        },
    ),
    Category(
        "desk_lamps",
        "DL",
        ("desk lamp", "LED lamp", "reading light", "task lamp"),
        ("Lumen & Co", "Oakline", "Brightfold"),
        (18, 160),
        {
            "color": ("black", "white", "brass", "green"),
            "feature": ("dimmer switch", "USB port", "clamp mount"),
        },
    ),
    Category(
        "yoga_mats",
        "YM",
        ("yoga mat", "exercise mat", "travel yoga mat", "thick yoga mat"),
        ("Stillpoint", "Pacewell", "Lotusline"),
        (15, 140),
        {
            "color": ("purple", "black", "sage", "pink", "blue"),
            "thickness": ("3mm", "5mm", "6mm", "8mm"),
            "material": ("natural rubber", "TPE", "cork"),
        },
    ),
    Category(
        "smartwatches",
        "SW",
        ("smartwatch", "fitness tracker", "GPS watch", "sports watch"),
        ("Kestrel", "Tempo Labs", "Arclight Audio", "Halden"),
        (40, 550),
        {
            "color": ("black", "silver", "rose gold", "olive"),
            "size": ("40mm", "42mm", "44mm", "46mm"),
            "feature": ("GPS", "heart rate", "LTE", "sleep tracking"),
        },
    ),
    Category(
        "cookware",
        "CW",
        ("cookware set", "non-stick pan", "cast iron skillet", "dutch oven", "saucepan"),
        ("Morrow Kitchen", "Ironhearth", "Steamline", "Copperleaf"),
        (25, 480),
        {
            "color": ("black", "red", "blue", "copper"),
            "material": ("cast iron", "stainless steel", "ceramic", "carbon steel"),
            "size": ("8 inch", "10 inch", "12 inch", "5 quart"),
        },
    ),
    Category(
        "bedding",
        "BD",
        ("sheet set", "duvet cover", "comforter", "pillow", "weighted blanket"),
        ("Dormer", "Linenfield", "Cloudnest"),
        (20, 350),
        {
            "color": ("white", "sage", "charcoal", "blush", "navy"),
            "size": ("twin", "full", "queen", "king"),
            "material": ("cotton", "linen", "bamboo", "flannel"),
        },
    ),
    Category(
        "kids_bikes",
        "KB",
        ("kids bike", "balance bike", "bike for a 6 year old", "children's bicycle"),
        ("Pedalwise", "Tarnfoot", "Little Ridge"),
        (70, 420),
        {
            "color": ("red", "blue", "mint", "yellow"),
            "wheel_size": ("12 inch", "16 inch", "20 inch", "24 inch"),
        },
    ),
    Category(
        "sunglasses",
        "SG",
        ("sunglasses", "polarized sunglasses", "sport sunglasses", "aviators"),
        ("Glareguard", "Kestrel", "Solstice Optics"),
        (20, 260),
        {
            "color": ("black", "tortoise", "gold", "clear"),
            "lens": ("polarized", "mirrored", "gradient"),
        },
    ),
)
CATEGORY_BY_KEY = {c.key: c for c in CATEGORIES}
SORTS = ("relevance", "price_asc", "price_desc", "rating", "newest")

# Customers: train uses even-indexed first names, eval odd-indexed ones (disjoint by name and id).
FIRST_NAMES = (
    "Amara", "Ben", "Chloe", "Dmitri", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jonah",
    "Kavya", "Liam", "Maya", "Noah", "Olga", "Pedro", "Quinn", "Rosa", "Sam", "Tariq",
    "Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Aiden", "Bianca", "Carlos", "Dana",
    "Emeka", "Fiona", "Gabriel", "Hana", "Ivan", "Julia", "Kofi", "Lena", "Mateo", "Nadia",
    "Oscar", "Priya", "Rafael", "Sofia", "Tomas", "Valentina", "Will", "Yara",
)  # fmt: skip
LAST_NAMES = (
    "Abara", "Becker", "Castillo", "Dubois", "Eriksen", "Fischer", "Gallagher", "Haddad",
    "Ito", "Jensen", "Kowalski", "Lindqvist", "Moreau", "Nakamura", "Okafor", "Petrov",
    "Quintero", "Rossi", "Santos", "Tanaka", "Ueda", "Varga", "Whitfield", "Xu", "Yilmaz",
    "Zielinski", "Andersen", "Brennan", "Costa", "Delgado", "Mensah", "Novak", "Osei",
    "Park", "Reyes", "Schmidt", "Silva", "Sorensen", "Torres", "Walsh",
)  # fmt: skip
CITIES = (
    ("Portland", "OR", "972"), ("Austin", "TX", "787"), ("Denver", "CO", "802"),
    ("Madison", "WI", "537"), ("Raleigh", "NC", "276"), ("Tucson", "AZ", "857"),
    ("Boise", "ID", "837"), ("Albany", "NY", "122"), ("Savannah", "GA", "314"),
    ("Omaha", "NE", "681"), ("Burlington", "VT", "054"), ("Spokane", "WA", "992"),
)  # fmt: skip
STREETS = (
    "Maple Ave", "Harbor St", "Juniper Ln", "Cedar Ct", "Elm St", "Willow Way", "Birch Rd",
    "Lakeview Dr", "Orchard Pl", "Summit Blvd", "Foundry St", "Railway Ave",
)  # fmt: skip
TIERS = ("standard", "silver", "gold")
CARRIERS = ("UPS", "FedEx", "USPS")
ORDER_STATUSES = ("processing", "shipped", "out_for_delivery", "delivered")
RETURN_REASONS = (
    "too_small", "too_large", "damaged", "not_as_described", "changed_mind", "arrived_late",
)  # fmt: skip

SEARCH_SCHEMA: dict[str, Any] = {
    "title": "SearchParams",
    "type": "object",
    "additionalProperties": False,
    "required": ["category", "keywords", "sort"],
    "properties": {
        "category": {"type": "string", "enum": [c.key for c in CATEGORIES]},
        "keywords": {"type": "string", "description": "the product words of the query"},
        "brands": {"type": "array", "items": {"type": "string"}, "minItems": 1},
        "price_min": {"type": "number", "minimum": 0},
        "price_max": {"type": "number", "minimum": 0},
        "attributes": {
            "type": "object",
            "description": 'attribute name -> wanted value, e.g. {"color": "blue"}',
            "additionalProperties": {"type": "string"},
        },
        "sort": {"type": "string", "enum": list(SORTS)},
        "in_stock_only": {"type": "boolean"},
    },
}


def _tool(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI function-tool definition whose parameters are all required."""
    parameters = {"type": "object", "properties": properties, "required": list(properties)}
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


ORDER_ID = {"type": "string", "description": "order number, e.g. A-1234567"}
SKU = {"type": "string", "description": "item SKU, e.g. RS-NW-4821"}
TOOLS: list[dict[str, Any]] = [
    _tool(
        "get_order_status",
        "Look up an order: status, items, carrier, tracking number and delivery estimate.",
        {"order_id": ORDER_ID},
    ),
    _tool(
        "list_orders",
        "List the customer's most recent orders, newest first.",
        {"customer_id": {"type": "string"}, "limit": {"type": "integer", "minimum": 1}},
    ),
    _tool(
        "start_return",
        "Open a return for one item of a delivered order and email a prepaid label.",
        {
            "order_id": ORDER_ID,
            "sku": SKU,
            "reason": {"type": "string", "enum": list(RETURN_REASONS)},
        },
    ),
    _tool(
        "start_exchange",
        "Exchange one item of a delivered order for another variant of the same product.",
        {
            "order_id": ORDER_ID,
            "sku": SKU,
            "new_variant": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    ),
    _tool(
        "update_shipping_address",
        "Change the delivery address of an order that has not shipped yet.",
        {
            "order_id": ORDER_ID,
            "address": {
                "type": "object",
                "properties": {
                    "line1": {"type": "string"},
                    "city": {"type": "string"},
                    "state": {"type": "string"},
                    "postal_code": {"type": "string"},
                },
                "required": ["line1", "city", "state", "postal_code"],
            },
        },
    ),
    _tool(
        "update_payment_method",
        "Charge an order that has not shipped yet to another saved card.",
        {"order_id": ORDER_ID, "card_last4": {"type": "string", "pattern": "^[0-9]{4}$"}},
    ),
    _tool(
        "cancel_order",
        "Cancel an order that has not shipped yet; the refund goes to the original payment.",
        {"order_id": ORDER_ID, "reason": {"type": "string"}},
    ),
    _tool(
        "get_product_details",
        "Product facts: price, variants in stock, materials, dimensions, rating, warranty.",
        {"sku": SKU},
    ),
]
TOOL_NAMES = tuple(t["function"]["name"] for t in TOOLS)

POLICY = """\
You are Wren, the customer assistant of Harbor & Hollow, an online store for outdoor gear, \
home goods and electronics. You help shoppers find products, and help customers with their \
orders, returns, exchanges, deliveries and payments.

# How to reply
Every reply is exactly one of three forms. Never mix them.
1. Product search. When the customer is looking for products to buy, reply with only a JSON \
object that validates against the SearchParams schema below: no prose, no code fence, no \
comments. Put the product words in `keywords`, every brand the customer names in `brands`, a \
price limit in `price_min` / `price_max` (numbers, US dollars), colours, sizes, materials and \
similar wishes in `attributes`, and pick `sort` from the customer's words ("cheapest" means \
price_asc, "best reviewed" means rating, "latest" means newest, otherwise relevance). Set \
`in_stock_only` to true only when the customer asks for items available now. When the customer \
refines an earlier search, reply with the whole updated object.
2. Tool call. When you need data or must change an order, reply with only one JSON object \
{"tool": "<tool name>", "arguments": {...}} where the arguments validate against that tool's \
parameters. Call one tool at a time and wait for its result, which arrives as a message from \
the tool. Never invent an order number, SKU or card: ask the customer when one is missing. \
Returns and exchanges need the item's SKU: look the order up first. list_orders takes the \
session's customer id and limit 5.
3. Answer. Otherwise reply in plain, friendly prose of at most four sentences. Use the \
customer's first name once. Quote facts only from this policy and from tool results.

# Store policy
- Returns: items can be returned within 30 days of delivery if unused and in their original \
packaging. Footwear may be tried on indoors. Gold members have 60 days. Final-sale items \
(marked "final sale" on the product page) cannot be returned or exchanged. Start a return with \
start_return; the customer receives a prepaid label by email within one hour. Return shipping \
is free for damaged, defective or wrongly described items, and otherwise $6.95, deducted from \
the refund (free for silver and gold members).
- Refunds: issued to the original payment method within 5 business days after the return \
arrives at our warehouse; banks may take another 3 to 5 business days to show it. Store \
credit is issued immediately if the customer prefers it.
- Exchanges: a different size or colour of the same product, within the return window, while \
in stock. Use start_exchange; the new item ships as soon as the carrier scans the return. \
There is no charge for exchanges.
- Shipping: standard shipping (3 to 5 business days) is free on orders over $50 and $5.95 \
otherwise. Express (1 to 2 business days) costs $14.95. Orders placed before 2 pm Eastern \
ship the same business day. We ship to all 50 US states; we do not ship internationally yet.
- Order changes: the address and the payment card of an order can be changed, and an order \
can be cancelled, only while its status is "processing". Once an order has shipped, offer a \
return after delivery instead, or suggest the carrier's own redirect service.
- Lost or late parcels: if tracking has not updated for 5 business days, or a delivered parcel \
cannot be found after 48 hours, apologise and offer a replacement or a full refund.
- Price match: within 14 days of purchase we refund the difference if our own price drops. We \
do not match other retailers.
- Warranty: electronics carry a 1-year warranty against defects, chairs and cookware 2 years, \
footwear and apparel 6 months. Warranty claims go to a human agent: say so and that they \
reply within one business day.
- Loyalty: standard members earn 1 point per dollar, silver 1.5, gold 2; 100 points are worth \
$5. Silver and gold members get free returns; gold members get free express shipping and a \
60-day return window.
- Privacy and safety: never reveal data of another customer, never ask for full card numbers \
or passwords, and only act on orders that belong to the customer of this session. Refuse \
politely anything unrelated to shopping at Harbor & Hollow.
- Escalation: if the customer asks for a human, or is upset after two attempts, say that a \
human agent will take over by email within one business day.
"""
