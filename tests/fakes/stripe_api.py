"""A fake Stripe API on loopback, for tests that run stripe-python and dj-stripe for real.

    with FakeStripe() as fake:
        stripe.api_base = fake.url          # dj-stripe reads the same global; see test_stripe_api.py
        ...
        events = fake.complete_checkout(session.id)
        for event in events:
            fake.deliver(event, live_server.url + "/stripe/webhook/<uuid>/", secret)

It speaks Stripe's v1 wire format: form-encoded bracket-notation bodies, ``expand[]``, cursor-paginated
lists, the error envelope (401 without a ``sk_test_`` key), ``Idempotency-Key`` replay. Objects are shaped
like API version ``stripe_objects.API_VERSION`` (what stripe-python 15 pins); every mutation records an
Event. Test controls are plain methods (``StripeBilling``): ``complete_checkout``, ``fail_next_invoice``,
``renew``, ``pay_invoice``, ``cancel_now``, ``advance_time``. ``GET <url>/checkout/<id>`` serves a page
whose buttons complete the session, so a browser test can click through Checkout.
"""

from __future__ import annotations

import html
import urllib.parse

from tests.fakes import stripe_webhooks
from tests.fakes.http_server import Reply, Request, route
from tests.fakes.stripe_billing_routes import BillingRoutes
from tests.fakes.stripe_catalog_routes import CatalogRoutes
from tests.fakes.stripe_http import ID
from tests.fakes.stripe_wire import JsonDict

__all__ = ["FakeStripe"]


class FakeStripe(CatalogRoutes, BillingRoutes):
    def reset(self) -> None:
        """Forget all state (objects, events, controls, requests seen); the server keeps running."""
        with self.lock:
            self.requests.clear()
            self.forget()
            self._idempotent.clear()

    # -- webhooks --------------------------------------------------------------------------------------

    @staticmethod
    def signed_webhook(event: JsonDict, secret: str) -> tuple[bytes, dict[str, str]]:
        """Body and headers of ``event``'s delivery to an endpoint with signing secret ``secret``."""
        return stripe_webhooks.signed_webhook(event, secret)

    def deliver(self, event: JsonDict, url: str, secret: str) -> tuple[int, bytes]:
        """POST ``event``, signed, to ``url``; return the receiver's status and body.

        Never called under the fake's lock: the receiver (dj-stripe) calls back into the fake.
        """
        status, body = stripe_webhooks.deliver(event, url, secret)
        if 200 <= status < 300:
            with self.lock:
                self.delivered.setdefault(url, set()).add(event["id"])
        return status, body

    def deliver_pending(
        self, url: str | None = None, secret: str | None = None
    ) -> list[tuple[str, str, int]]:
        """Deliver, oldest first, every event not yet delivered successfully: to ``url`` with ``secret``, or
        else to each enabled webhook endpoint created through the API whose ``enabled_events`` match.
        Returns ``(event type, event id, status)`` per delivery; stops at the first failing one."""
        with self.lock:
            events = list(self.events)
            if url is not None:
                assert secret is not None, "a url needs the endpoint's signing secret"
                targets = [(url, secret, ["*"])]
            else:
                targets = [
                    (we["url"], we["_secret"], we["enabled_events"])
                    for we in self.all_of("webhook_endpoint")
                    if we["status"] == "enabled"
                ]
        results = []
        for target_url, target_secret, wanted in targets:
            for event in events:
                if event["id"] in self.delivered.get(target_url, set()):
                    continue
                if "*" not in wanted and event["type"] not in wanted:
                    continue
                status, _ = self.deliver(event, target_url, target_secret)
                results.append((event["type"], event["id"], status))
                if not 200 <= status < 300:
                    break
        return results

    def webhook_secret(self, endpoint_id: str) -> str:
        """The signing secret of a webhook endpoint created through the API (Stripe shows it only once)."""
        with self.lock:
            return self.get("webhook_endpoint", endpoint_id)["_secret"]

    def events_of_type(self, event_type: str) -> list[JsonDict]:
        with self.lock:
            return [event for event in self.events if event["type"] == event_type]

    # -- hosted pages ----------------------------------------------------------------------------------

    @route("GET", r"/checkout/" + ID)
    def checkout_page(self, request: Request) -> Reply:
        session = self.get("checkout.session", self._id(request))
        lines = "".join(
            f"<li>{html.escape(str(line['description']))} x {line['quantity']}: "
            f"{line['amount_total'] / 100:.2f} {html.escape(line['currency'].upper())}</li>"
            for line in session["_line_items"]
        )
        cancel = f'<a id="cancel" href="{html.escape(session["cancel_url"] or "")}">Back</a>'
        page = f"""<!doctype html><html><head><title>Fake Stripe Checkout</title></head><body>
<h1>Fake Stripe Checkout</h1><p id="status">{html.escape(session["status"])}</p>
<p id="email">{html.escape(session["customer_email"] or session["customer"] or "")}</p><ul>{lines}</ul>
<form method="post"><button id="pay" name="outcome" value="pay">Pay</button>
<button id="decline" name="outcome" value="decline">Pay with a declining card</button></form>{cancel}
</body></html>"""
        return Reply(200, raw=page.encode(), headers={"Content-Type": "text/html; charset=utf-8"})

    @route("POST", r"/checkout/" + ID)
    def checkout_page_submit(self, request: Request) -> Reply:
        """The page's buttons: complete the session and redirect to its success_url, as Checkout does."""
        outcome = urllib.parse.parse_qs(request.body.decode()).get("outcome", ["pay"])[0]
        session_id = self._id(request)
        self.complete_checkout(session_id, payment_succeeds=outcome == "pay")
        success_url = self.objects[session_id]["success_url"]
        if not success_url:
            return Reply(200, raw=b"<p id='done'>Payment complete</p>", headers={"Content-Type": "text/html"})
        return Reply(303, headers={"Location": success_url.replace("{CHECKOUT_SESSION_ID}", session_id)})

    @route("GET", r"/portal/" + ID)
    def portal_page(self, request: Request) -> Reply:
        session = self.get("billing_portal.session", self._id(request))
        back = html.escape(session["return_url"] or "")
        page = f"""<!doctype html><html><head><title>Fake Stripe billing portal</title></head><body>
<h1>Fake Stripe billing portal</h1><p id="customer">{html.escape(session["customer"])}</p>
<a id="return" href="{back}">Return</a></body></html>"""
        return Reply(200, raw=page.encode(), headers={"Content-Type": "text/html; charset=utf-8"})
