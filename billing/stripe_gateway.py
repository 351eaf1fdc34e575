"""The one seam between Prism and Stripe's API: stripe-python with our key, typed answers, our errors.

stripe.api_base comes from settings.STRIPE_API_HOST (set from STRIPE_API_BASE), which dj-stripe applies
at import; tests point it at the local fake. Errors never carry the key: stripe-python's messages do not,
and we log only the error's class and Stripe's request id.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import stripe
from django.conf import settings
from djstripe.settings import djstripe_settings

from billing.catalog import USER_METADATA_KEY, Interval, lookup_key
from billing.plans import PlanName

logger = logging.getLogger(__name__)


class StripeUnavailable(Exception):
    """Stripe refused or could not be reached; the message is safe to show and to log."""


def _key() -> str:
    return djstripe_settings.STRIPE_SECRET_KEY


def _call(what: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, api_key=_key(), **kwargs)
    except stripe.StripeError as error:
        logger.warning("Stripe %s failed: %s (request %s)", what, type(error).__name__, error.request_id)
        raise StripeUnavailable(f"Stripe could not {what} right now. Please try again.") from error


stripe.default_http_client = stripe.RequestsClient(timeout=settings.STRIPE_HTTP_TIMEOUT)
stripe.max_network_retries = 2


@dataclass(frozen=True)
class InvoiceLine:
    number: str
    created: int
    amount_cents: int
    currency: str
    status: str
    url: str


def create_customer(email: str, user_id: int) -> str:
    customer = _call(
        "create your customer record",
        stripe.Customer.create,
        email=email,
        metadata={USER_METADATA_KEY: str(user_id)},
        idempotency_key=f"prism-customer-{user_id}",
    )
    return str(customer.id)


def price_id_for(plan: PlanName, interval: Interval) -> str | None:
    prices = _call(
        "find that price", stripe.Price.list, lookup_keys=[lookup_key(plan, interval)], active=True, limit=1
    )
    return str(prices.data[0].id) if prices.data else None


def create_checkout_session(
    *, customer_id: str, price_id: str, user_id: int, success_url: str, cancel_url: str
) -> str:
    """A Checkout Session for a subscription to ``price_id``; returns the URL to send the user to."""
    session = _call(
        "start Checkout",
        stripe.checkout.Session.create,
        mode="subscription",
        customer=customer_id,
        line_items=[{"price": price_id, "quantity": 1}],
        client_reference_id=str(user_id),
        subscription_data={"metadata": {USER_METADATA_KEY: str(user_id)}},
        metadata={USER_METADATA_KEY: str(user_id)},
        success_url=success_url,
        cancel_url=cancel_url,
    )
    return str(session.url)


def create_portal_session(*, customer_id: str, return_url: str) -> str:
    session = _call(
        "open the billing portal",
        stripe.billing_portal.Session.create,
        customer=customer_id,
        return_url=return_url,
    )
    return str(session.url)


def retrieve_subscription(subscription_id: str) -> dict[str, Any]:
    """The subscription as Stripe holds it now (the latest state wins over any event's snapshot)."""
    return _call("load the subscription", stripe.Subscription.retrieve, subscription_id).to_dict()


def list_invoices(customer_id: str, limit: int = 12) -> list[InvoiceLine]:
    invoices = _call("list your invoices", stripe.Invoice.list, customer=customer_id, limit=limit)
    return [
        InvoiceLine(
            number=str(inv.get("number") or inv.id),
            created=int(inv.created),
            amount_cents=int(inv.get("amount_due") or 0),
            currency=str(inv.get("currency") or "usd"),
            status=str(inv.get("status") or ""),
            url=str(inv.get("hosted_invoice_url") or ""),
        )
        for inv in invoices.data
    ]
