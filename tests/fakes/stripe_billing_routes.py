"""Fake Stripe routes for customers, payment methods, subscriptions, invoices, payments, Checkout, the
billing portal and events."""

from __future__ import annotations

from tests.fakes import stripe_objects as build
from tests.fakes import stripe_prorations as prorations
from tests.fakes.http_server import Reply, Request, route
from tests.fakes.stripe_http import ID, StripeHTTP, params_of
from tests.fakes.stripe_wire import (
    JsonDict,
    StripeError,
    as_int,
    as_list,
    expand,
    list_object,
    merge_metadata,
    required,
)

LIVE_SUBSCRIPTION_STATUSES = ("active", "trialing", "past_due", "unpaid", "incomplete", "paused")
CUSTOMER_FIELDS = ("email", "name", "description", "phone")


class BillingRoutes(StripeHTTP):
    # -- customers and payment methods -----------------------------------------------------------------

    @route("POST", r"/v1/customers")
    def create_customer_route(self, request: Request) -> Reply:
        params = params_of(request)
        return self.answer(self.create_customer(params), params)

    @route("GET", r"/v1/customers")
    def list_customers(self, request: Request) -> Reply:
        email = params_of(request).get("email")
        return self.listing(
            "customer", request, lambda c: not c.get("deleted") and email in (None, c["email"])
        )

    @route("GET", r"/v1/customers/" + ID)
    def retrieve_customer(self, request: Request) -> Reply:
        return self.answer(self.get("customer", self._id(request)), params_of(request))

    @route("POST", r"/v1/customers/" + ID)
    def update_customer(self, request: Request) -> Reply:
        cust, params = self.live_customer(self._id(request), "id"), params_of(request)
        before = self.render(cust)
        for name in CUSTOMER_FIELDS:
            if name in params:
                cust[name] = params[name] or None
        cust["metadata"] = merge_metadata(cust["metadata"], params.get("metadata"))
        if card := params.get("payment_method"):
            self.attach_card(cust, card)
        settings = params.get("invoice_settings") or {}
        if "default_payment_method" in settings:
            card = settings["default_payment_method"]
            cust["invoice_settings"]["default_payment_method"] = self.card_id(cust, card) if card else None
        self.record("customer.updated", cust, before)
        return self.answer(cust, params)

    @route("DELETE", r"/v1/customers/" + ID)
    def delete_customer(self, request: Request) -> Reply:
        """Stripe cancels the customer's subscriptions at once, then answers with a deleted stub."""
        cust = self.live_customer(self._id(request), "id")
        for sub in self.all_of("subscription"):
            if sub["customer"] == cust["id"] and sub["status"] not in ("canceled", "incomplete_expired"):
                self.cancel_subscription(sub)
        self.record("customer.deleted", cust)
        stub = {"id": cust["id"], "object": "customer", "deleted": True}
        self.objects[cust["id"]] = stub
        return Reply(200, stub)

    def live_customer(self, customer_id: str | None, param: str) -> JsonDict:
        cust = self.get("customer", customer_id, param)
        if cust.get("deleted"):
            raise StripeError(404, f"No such customer: '{customer_id}'", param=param, code="resource_missing")
        return cust

    @route("GET", r"/v1/customers/" + ID + "/payment_methods")
    def list_customer_payment_methods(self, request: Request) -> Reply:
        cust = self.live_customer(self._id(request), "customer")
        return self.listing("payment_method", request, lambda pm: pm["customer"] == cust["id"])

    @route("GET", r"/v1/payment_methods")
    def list_payment_methods(self, request: Request) -> Reply:
        customer = params_of(request).get("customer")
        return self.listing("payment_method", request, lambda pm: customer in (None, pm["customer"]))

    @route("GET", r"/v1/payment_methods/" + ID)
    def retrieve_payment_method(self, request: Request) -> Reply:
        return self.answer(self.get("payment_method", self._id(request)), params_of(request))

    @route("POST", r"/v1/payment_methods/" + ID + "/attach")
    def attach_payment_method(self, request: Request) -> Reply:
        params = params_of(request)
        cust = self.live_customer(params.get("customer"), "customer")
        return self.answer(self.attach_card(cust, self._id(request)), params)

    @route("POST", r"/v1/payment_methods/" + ID + "/detach")
    def detach_payment_method(self, request: Request) -> Reply:
        pm = self.get("payment_method", self._id(request))
        pm["customer"] = None
        self.record("payment_method.detached", pm)
        return self.answer(pm, params_of(request))

    # -- subscriptions ---------------------------------------------------------------------------------

    @route("POST", r"/v1/subscriptions")
    def create_subscription_route(self, request: Request) -> Reply:
        params = params_of(request)
        cust = (
            self.live_customer(params.get("customer") or "", "customer") if params.get("customer") else None
        )
        if cust is None:
            raise required("customer")
        behavior = params.get("payment_behavior", "allow_incomplete")
        if behavior not in ("allow_incomplete", "default_incomplete"):
            raise StripeError(
                400,
                f"The fake Stripe does not implement payment_behavior={behavior}.",
                param="payment_behavior",
            )
        items = [
            (item.get("price"), as_int(item.get("quantity", 1), f"items[{i}][quantity]"))
            for i, item in enumerate(as_list(params.get("items")))
        ]
        sub = self.create_subscription(cust, items, params, attempt_payment=behavior == "allow_incomplete")
        return self.answer(sub, params)

    @route("GET", r"/v1/subscriptions")
    def list_subscriptions(self, request: Request) -> Reply:
        params = params_of(request)
        status = params.get("status")

        def keep(sub: JsonDict) -> bool:
            prices = [item["price"] for item in sub["items"]["data"]]
            return (
                params.get("customer", sub["customer"]) == sub["customer"]
                and params.get("price", prices[0]) in prices
                and (
                    status == "all"
                    or sub["status"] == status
                    or (status is None and sub["status"] in LIVE_SUBSCRIPTION_STATUSES)
                )
            )

        return self.listing("subscription", request, keep)

    @route("GET", r"/v1/subscriptions/" + ID)
    def retrieve_subscription(self, request: Request) -> Reply:
        return self.answer(self.get("subscription", self._id(request)), params_of(request))

    @route("POST", r"/v1/subscriptions/" + ID)
    def update_subscription_route(self, request: Request) -> Reply:
        params = params_of(request)
        sub = self.update_subscription(self.get("subscription", self._id(request)), params)
        return self.answer(sub, params)

    @route("DELETE", r"/v1/subscriptions/" + ID)
    def cancel_subscription_route(self, request: Request) -> Reply:
        params = params_of(request)
        sub = self.get("subscription", self._id(request))
        details = params.get("cancellation_details") or {}
        sub["cancellation_details"] = {**sub["cancellation_details"], **details}
        return self.answer(self.cancel_subscription(sub), params)

    @route("GET", r"/v1/subscription_items")
    def list_subscription_items(self, request: Request) -> Reply:
        sub = self.get("subscription", params_of(request).get("subscription"), "subscription")
        return self.listing("subscription_item", request, lambda item: item["subscription"] == sub["id"])

    @route("GET", r"/v1/subscription_items/" + ID)
    def retrieve_subscription_item(self, request: Request) -> Reply:
        return self.answer(self.get("subscription_item", self._id(request)), params_of(request))

    # -- invoices and payments -------------------------------------------------------------------------

    @route("GET", r"/v1/invoices")
    def list_invoices(self, request: Request) -> Reply:
        params = params_of(request)

        def keep(inv: JsonDict) -> bool:
            sub_id = inv["parent"]["subscription_details"]["subscription"]
            return (
                params.get("customer", inv["customer"]) == inv["customer"]
                and params.get("subscription", sub_id) == sub_id
                and params.get("status", inv["status"]) == inv["status"]
            )

        return self.listing("invoice", request, keep)

    @route("POST", r"/v1/invoices/create_preview")
    def create_invoice_preview(self, request: Request) -> Reply:
        """The invoice a subscription change would make now (prorations included), made nowhere."""
        params = params_of(request)
        sub = self.get("subscription", params.get("subscription"), "subscription")
        if params.get("customer") not in (None, sub["customer"]):
            raise StripeError(400, "The subscription does not belong to that customer.", param="customer")
        details = params.get("subscription_details") or {}
        changes = self.price_changes(sub, as_list(details.get("items")))
        at = as_int(details.get("proration_date") or self.now(), "subscription_details[proration_date]")
        lines, _ = prorations.prorate(changes, at)
        return Reply(200, self.proration_invoice(sub, lines, store=False))

    @route("GET", r"/v1/invoices/" + ID)
    def retrieve_invoice(self, request: Request) -> Reply:
        return self.answer(self.get("invoice", self._id(request)), params_of(request))

    @route("GET", r"/v1/invoices/" + ID + "/lines")
    def list_invoice_lines(self, request: Request) -> Reply:
        inv, params = self.get("invoice", self._id(request), "invoice"), params_of(request)
        page = list_object(request.path, self.render(inv)["lines"]["data"], params)
        return Reply(200, expand(page, as_list(params.get("expand")), self._resolve, self.include))

    @route("POST", r"/v1/invoices/" + ID + "/pay")
    def pay_invoice_route(self, request: Request) -> Reply:
        inv = self.get("invoice", self._id(request))
        sub = self.objects[inv["parent"]["subscription_details"]["subscription"]]
        if not self.attempt_invoice(inv, sub, None):
            raise StripeError(
                402,
                "Your card was declined.",
                code="card_declined",
                type="card_error",
                extra={"decline_code": "generic_decline"},
            )
        return self.answer(inv, params_of(request))

    @route("GET", r"/v1/payment_intents/" + ID)
    def retrieve_payment_intent(self, request: Request) -> Reply:
        return self.answer(self.get("payment_intent", self._id(request)), params_of(request))

    @route("GET", r"/v1/charges")
    def list_charges(self, request: Request) -> Reply:
        params = params_of(request)
        return self.listing(
            "charge",
            request,
            lambda ch: (
                params.get("customer", ch["customer"]) == ch["customer"]
                and params.get("payment_intent", ch["payment_intent"]) == ch["payment_intent"]
            ),
        )

    @route("GET", r"/v1/charges/" + ID)
    def retrieve_charge(self, request: Request) -> Reply:
        return self.answer(self.get("charge", self._id(request)), params_of(request))

    @route("GET", r"/v1/balance_transactions/" + ID)
    def retrieve_balance_transaction(self, request: Request) -> Reply:
        return self.answer(self.get("balance_transaction", self._id(request)), params_of(request))

    # -- Checkout and the billing portal ---------------------------------------------------------------

    @route("POST", r"/v1/checkout/sessions")
    def create_checkout_session(self, request: Request) -> Reply:
        params = params_of(request)
        mode = params.get("mode")
        if mode not in ("subscription", "payment", "setup"):
            raise StripeError(
                400, "Invalid mode: must be one of payment, setup, or subscription", param="mode"
            )
        if params.get("customer") and params.get("customer_email"):
            raise StripeError(
                400,
                "You may only specify one of these parameters: customer, customer_email.",
                param="customer_email",
            )
        if params.get("customer"):
            self.live_customer(params["customer"], "customer")
        lines = []
        for i, line in enumerate(as_list(params.get("line_items"))):
            price = self.get("price", line.get("price"), f"line_items[{i}][price]")
            if "quantity" not in line:
                raise required(f"line_items[{i}][quantity]")
            lines.append(
                build.checkout_line_item(price, as_int(line["quantity"], f"line_items[{i}][quantity]"))
            )
        if mode == "subscription":
            if not lines:
                raise required("line_items")
            if not any(self.objects[line["price"]]["type"] == "recurring" for line in lines):
                raise StripeError(
                    400,
                    "You must provide at least one recurring price in `subscription` mode when using prices.",
                    param="line_items",
                )
        session = build.checkout_session(self.now(), self.url, params, lines)
        session["metadata"] = merge_metadata({}, params.get("metadata"))
        session["_line_items"] = lines
        subscription_data = params.get("subscription_data") or {}
        session["_subscription_data"] = {
            key: value
            for key, value in subscription_data.items()
            if key in ("metadata", "trial_period_days", "description")
        }
        self.put(session)
        return self.answer(session, params)

    @route("GET", r"/v1/checkout/sessions")
    def list_checkout_sessions(self, request: Request) -> Reply:
        params = params_of(request)
        filters = {name: params[name] for name in ("customer", "subscription", "status") if name in params}
        return self.listing(
            "checkout.session", request, lambda s: all(s[name] == value for name, value in filters.items())
        )

    @route("GET", r"/v1/checkout/sessions/" + ID)
    def retrieve_checkout_session(self, request: Request) -> Reply:
        return self.answer(self.get("checkout.session", self._id(request)), params_of(request))

    @route("GET", r"/v1/checkout/sessions/" + ID + "/line_items")
    def list_checkout_line_items(self, request: Request) -> Reply:
        session = self.get("checkout.session", self._id(request), "session")
        return Reply(200, self.include(session, "line_items"))

    @route("POST", r"/v1/checkout/sessions/" + ID + "/expire")
    def expire_checkout_session(self, request: Request) -> Reply:
        session = self.get("checkout.session", self._id(request), "session")
        if session["status"] != "open":
            raise StripeError(
                400,
                f"Only Checkout Sessions with a status of `open` can be expired. This Checkout "
                f"Session has a status of `{session['status']}`.",
            )
        session["status"] = "expired"
        self.record("checkout.session.expired", session)
        return self.answer(session, params_of(request))

    @route("POST", r"/v1/billing_portal/sessions")
    def create_portal_session(self, request: Request) -> Reply:
        params = params_of(request)
        if not params.get("customer"):
            raise required("customer")
        cust = self.live_customer(params["customer"], "customer")
        session = self.put(build.portal_session(self.now(), self.url, cust["id"], params.get("return_url")))
        self.record("billing_portal.session.created", session)
        return self.answer(session, params)

    # -- events ----------------------------------------------------------------------------------------

    @route("GET", r"/v1/events")
    def list_events(self, request: Request) -> Reply:
        params = params_of(request)
        types = as_list(params.get("types")) or as_list(params.get("type"))

        def matches(event_type: str) -> bool:
            return not types or any(
                event_type == wanted or (wanted.endswith("*") and event_type.startswith(wanted[:-1]))
                for wanted in types
            )

        return self.listing("event", request, lambda event: matches(event["type"]))

    @route("GET", r"/v1/events/" + ID)
    def retrieve_event(self, request: Request) -> Reply:
        return self.answer(self.get("event", self._id(request)), params_of(request))
