"""Customer phrasings for the commerce workload, written for specwise.

Every tuple is a template family; the train split uses even indices and the eval split odd ones,
so a draft head trained on `train` never sees an `eval` phrasing. Each family therefore holds at
least two templates. Slots are `str.format` names.
"""

from __future__ import annotations

# search_params: {item} = attributes + brand + product words, {price} = "" or " under $80"...,
# {extras} = "" or a sentence about sort order / availability.
SEARCH_QUERIES = (
    "looking for {item}{price}{extras}",
    "Do you have any {item}{price}?{extras}",
    "show me {item}{price}{extras}",
    "Hi! Can you find me {item}{price}?{extras}",
    "what {item} do you carry{price}?{extras}",
    "need {item}{price} asap{extras}",
    "I'm shopping for {item}{price}.{extras}",
    "{item}{price} pls{extras}",
    "Could you pull up {item}{price}?{extras}",
    "any good {item}{price}?{extras}",
    "Hello, I want to buy {item}{price}.{extras}",
    "searching for {item}{price}{extras}",
    "My old one broke, so I need {item}{price}.{extras}",
    "gift idea: {item}{price}{extras}",
    "Can I see your {item}{price}?{extras}",
    "I'd like to compare {item}{price}.{extras}",
)
PRICE_UNDER = (" under ${hi}", " for less than {hi} dollars", " below ${hi}", ", max ${hi}")
PRICE_BETWEEN = (" between ${lo} and ${hi}", " in the ${lo}-${hi} range", " for ${lo} to ${hi}")
PRICE_OVER = (" over ${lo}", " above ${lo}", " that cost at least ${lo}")
SORT_PHRASES = {
    "price_asc": (" Cheapest first.", " Sort by lowest price.", " lowest price first please"),
    "price_desc": (" Most expensive first.", " Show the premium ones first."),
    "rating": (" Best reviewed first.", " Sort by rating please.", " top rated ones first"),
    "newest": (" Newest models first.", " Latest releases first please."),
}
STOCK_PHRASES = (" Only what's in stock.", " It has to ship today.", " available right now")

# Refinements of an earlier search (a second user turn).
REFINE_PRICE = (
    "actually keep it under ${hi}",
    "Hmm, too pricey. Anything below ${hi}?",
    "can you cap the price at ${hi}?",
    "Same search but max ${hi} please.",
)
REFINE_BRAND = (
    "only {brand} please",
    "Can you narrow that to {brand}?",
    "just show {brand} ones",
    "I prefer {brand}, filter to that brand.",
)
REFINE_COLOR = (
    "do you have them in {value}?",
    "Same thing in {value} please.",
    "make it {value} instead",
    "What about {value} ones?",
)
REFINE_SORT = (
    "sort those{sort}",
    "Can you re-sort?{sort}",
    "reorder the results:{sort}",
    "Please change the order.{sort}",
)

# tool_call, direct: the first user turn names the order and what to do.
STATUS_ASK = (
    "Where is my order {order_id}?",
    "hi, any update on {order_id}? it's been a while",
    "Can you check the status of order {order_id} please",
    "order {order_id}, has it shipped yet?",
    "Hello, I'm waiting on {order_id}. When will it arrive?",
    "What's going on with my package, order number {order_id}",
    "I placed order {order_id} on {placed}. Is it on its way?",
    "Tracking for {order_id}?",
)
ADDRESS_CHANGE = (
    "Please ship order {order_id} to {address} instead.",
    "I moved! Can you change the address on {order_id} to {address}?",
    "wrong address on {order_id}, it should go to {address}",
    "Could order {order_id} be delivered to {address}? That's my office.",
)
PAYMENT_CHANGE = (
    "Can you charge order {order_id} to my card ending {last4} instead?",
    "Please switch the payment for {order_id} to the card ending in {last4}.",
    "use my other card ({last4}) for order {order_id}",
    "The card on {order_id} is blocked, please bill the one ending {last4}.",
)
CANCEL_ASK = (
    "Please cancel {order_id}, {why}.",
    "I need to cancel order {order_id}: {why}.",
    "cancel {order_id} pls, {why}",
    "Hi, can order {order_id} still be cancelled? {Why}.",
)
CANCEL_WHY = (
    "ordered by mistake",
    "found it cheaper elsewhere",
    "no longer needed",
    "delivery takes too long",
    "ordered the wrong size",
)
PRODUCT_ASK = (
    "Tell me more about item {sku}.",
    "I'm looking at {sku} on your site. What's it made of?",
    "Is {sku} any good? What's the rating?",
    "does {sku} come in other colors?",
    "What's the warranty on {sku}?",
    "Can you give me the details for {sku}, the {brand} {noun}?",
)
LIST_ASK = (
    "I don't remember my order number. I bought {a_noun} last month.",
    "Can you find my recent orders? I lost the confirmation email.",
    "what did I order recently? I need the order number for {a_noun}",
    "I can't find my order number for the {noun} I bought.",
)

# tool_call, clarified: the first user turn lacks the order number, the agent asks for it.
STATUS_VAGUE = (
    "where's my stuff??",
    "My package still hasn't arrived.",
    "Can you tell me when my order gets here?",
    "hi, I'd like an update on my delivery",
)
CANCEL_VAGUE = (
    "I want to cancel my order.",
    "how do I cancel something I just bought",
    "Please cancel my last purchase.",
    "Need to cancel an order, {why}.",
)
ASK_ORDER_ID = (
    "I can help with that, {first}. What is the order number? It starts with A-.",
    "Sure, {first}. Could you share the order number (A- followed by seven digits)?",
)
GIVE_ORDER_ID = (
    "It's {order_id}.",
    "{order_id}",
    "order number {order_id}",
    "Here you go: {order_id}",
)

# tool_call after a lookup: the customer wants to return or exchange an item of the order.
RETURN_ASK = (
    "I want to return the {item_name}, {reason_text}.",
    "The {item_name} is {reason_text}. Can I send it back?",
    "please start a return for the {item_name}: {reason_text}",
    "Return the {item_name} please, {reason_text}.",
)
RETURN_REASON_TEXT = {
    "too_small": ("it's too small", "it runs small"),
    "too_large": ("it's too big", "it runs large"),
    "damaged": ("it arrived damaged", "it came broken"),
    "not_as_described": ("it doesn't match the description", "it looks nothing like the photos"),
    "changed_mind": ("I changed my mind", "I don't need it anymore"),
    "arrived_late": ("it arrived too late", "it came after the trip I needed it for"),
}
EXCHANGE_ASK = (
    "Can I exchange the {item_name} for {attr} {value}?",
    "I'd like the {item_name} in {attr} {value} instead.",
    "swap the {item_name} for a {value} one please ({attr})",
    "Please exchange the {item_name}: I need {attr} {value}.",
)

# answer: questions about policy, answered from the system prompt.
POLICY_QUESTIONS = {
    "return_window": (
        "How long do I have to return {a_noun}?",
        "what's your return policy?",
        "Can I still return something I got {days} days ago?",
        "Is there a deadline for returns?",
    ),
    "refund_time": (
        "How long until I get my refund?",
        "I sent a return back last week. When does the money show up?",
        "when will I see my refund on my card",
        "Do refunds take long?",
    ),
    "shipping": (
        "How much is shipping?",
        "how fast is delivery to {city}?",
        "Do you have express shipping?",
        "If I order {a_noun} today, when will it arrive?",
    ),
    "international": (
        "Do you ship to Canada?",
        "can I get an order delivered to my sister in {country}?",
        "Do you ship outside the US?",
        "is international shipping available",
    ),
    "price_match": (
        "The {noun} I bought is cheaper now. Can I get the difference back?",
        "Do you price match?",
        "Another store sells the same {noun} for less, will you match it?",
        "Price dropped right after I ordered, anything you can do?",
    ),
    "warranty": (
        "My {noun} stopped working. Is it under warranty?",
        "What warranty do you offer on {noun_plural}?",
        "how long is the warranty for {a_noun}",
        "Is there a guarantee if the {noun} breaks?",
    ),
    "loyalty": (
        "How many points do I have to earn for a discount?",
        "What do I get as a {tier} member?",
        "how do loyalty points work",
        "Is it worth upgrading my membership?",
    ),
}
COUNTRIES = ("Canada", "Mexico", "Ireland", "Japan", "Germany", "Australia")

# answer after a tool result: the customer's question about the result.
STATUS_FOLLOWUP = (
    "Thanks. So when will it get here?",
    "ok, what does that mean for delivery?",
    "Great, and when should I expect it?",
    "So is it on the way or not?",
)
PRODUCT_FOLLOWUP = (
    "Which colors can I get it in right now?",
    "Is it worth the price?",
    "ok, and what sizes are in stock?",
    "How long is the warranty on it?",
)
RETURN_FOLLOWUP = (
    "What happens next?",
    "ok so when do I get my money back?",
    "Do I have to pay for the return shipping?",
    "Thanks! Where do I find the label?",
)

# Optional openers of a first user turn ({a_noun}: any catalogue product).
LEAD_INS = (
    "Hi! ",
    "Quick question: ",
    "Hello, ",
    "I'm thinking about ordering {a_noun}. ",
    "Hey there. ",
    "Before I buy {a_noun}: ",
    "Good morning! ",
    "I have {a_noun} in my cart. ",
)
