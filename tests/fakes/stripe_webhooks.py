"""Webhook deliveries as Stripe makes them: the JSON body and a ``Stripe-Signature`` header.

The signature comes from stripe-python's own ``WebhookSignature.generate_signature_header`` (which calls
``WebhookSignature._compute_signature``), the very code ``stripe.Webhook.construct_event`` and dj-stripe
check it with, so a signing mismatch cannot hide in a reimplementation here.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import stripe

from tests.fakes.stripe_wire import JsonDict


def signed_webhook(
    event: JsonDict, secret: str, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The body and headers Stripe would POST for ``event`` to an endpoint whose signing secret is ``secret``.

    ``timestamp`` defaults to the real time (not the fake's clock): receivers reject old signatures.
    """
    payload = json.dumps(event, indent=2)
    header = stripe.WebhookSignature.generate_signature_header(
        payload, secret, timestamp=int(time.time()) if timestamp is None else timestamp
    )
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "Stripe-Signature": header,
        "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        "Cache-Control": "no-cache",
    }
    return payload.encode(), headers


def deliver(event: JsonDict, url: str, secret: str, timeout: float = 30.0) -> tuple[int, bytes]:
    """POST ``event`` signed with ``secret`` to ``url``; the receiver's status and body (errors included)."""
    body, headers = signed_webhook(event, secret)
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()
