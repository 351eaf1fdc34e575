"""The fake Stripe's billing behaviour: subscriptions, their invoices, payments, Checkout and the clock.

The rules follow Stripe's for ``collection_method=charge_automatically`` card payments: the first invoice is
charged at once (``active``, or ``incomplete`` when the card fails), a renewal that fails leaves the
subscription ``past_due`` with the invoice open, and ``cancel_at_period_end`` ends it at the period's end.
A price change with ``proration_behavior=always_invoice`` (or one that changes the billing interval) is
prorated as Stripe does (``stripe_prorations``) and invoiced at once; otherwise it bills nothing until the
next cycle. ``POST /v1/invoices/create_preview`` shows the same invoice without making it.
"""

from __future__ import annotations

from tests.fakes import stripe_documents as documents
from tests.fakes import stripe_objects as build
from tests.fakes import stripe_prorations as prorations
from tests.fakes.stripe_ledger import StripeLedger
from tests.fakes.stripe_wire import JsonDict, StripeError, merge_metadata, missing, new_id

INCOMPLETE_EXPIRES_AFTER = 23 * 3600
RETRY_AFTER = 3 * 86400


class StripeBilling(StripeLedger):
    # -- test controls ---------------------------------------------------------------------------------

    def complete_checkout(self, session_id: str, payment_succeeds: bool = True) -> list[JsonDict]:
        """Act out the customer paying on the Checkout page; return the Events this produced, in order.

        Creates the customer (unless the session named one) with a test card, the subscription from the
        session's line items with ``subscription_data[metadata]``, its first invoice, and marks the session
        ``complete``. With ``payment_succeeds=False`` this plays a payment that fails after Checkout
        completed (as an asynchronous payment method does): the session is ``complete`` but ``unpaid``,
        the subscription ``incomplete`` and its invoice open, then ``checkout.session.async_payment_failed``.
        """
        with self.lock:
            mark = len(self.events)
            session = self.get("checkout.session", session_id)
            if session["status"] != "open":
                raise StripeError(400, f"This Checkout Session is no longer active ({session['status']}).")
            if session["customer"]:
                cust = self.get("customer", session["customer"])
            else:
                cust = self.create_customer({"email": session["customer_email"] or "customer@example.com"})
            card = self.attach_card(cust, "pm_card_visa" if payment_succeeds else "pm_card_chargeDeclined")
            before = self.render(cust)
            cust["invoice_settings"]["default_payment_method"] = card["id"]
            self.record("customer.updated", cust, before)
            items = [(line["price"], line["quantity"]) for line in session["_line_items"]]
            params = dict(session["_subscription_data"])
            sub = self.create_subscription(cust, items, params, payment_succeeds=payment_succeeds)
            inv = self.objects[sub["latest_invoice"]]
            session.update(
                status="complete",
                customer=cust["id"],
                subscription=sub["id"],
                invoice=inv["id"],
                payment_status="paid" if inv["status"] == "paid" else "unpaid",
                customer_details={
                    "address": None,
                    "business_name": None,
                    "email": cust["email"],
                    "individual_name": None,
                    "name": cust["name"],
                    "phone": None,
                    "tax_exempt": "none",
                    "tax_ids": [],
                },
            )
            self.record("checkout.session.completed", session)
            if not payment_succeeds:
                self.record("checkout.session.async_payment_failed", session)
            return self.events[mark:]

    def fail_next_invoice(self, subscription_id: str) -> None:
        """Make the next payment attempt for this subscription's invoices fail (as a declined card does)."""
        with self.lock:
            self.get("subscription", subscription_id)
            self.fail_next.add(subscription_id)

    def renew(self, subscription_id: str, payment_succeeds: bool | None = None) -> list[JsonDict]:
        """Run the subscription's next billing cycle now (moving the clock to its period end if that is
        later); return the Events. With ``payment_succeeds=None`` the card and ``fail_next_invoice`` decide.
        """
        with self.lock:
            mark = len(self.events)
            sub = self.get("subscription", subscription_id)
            period_end = sub["items"]["data"][0]["current_period_end"]
            self.clock_offset += max(0, period_end - self.now())
            self._cycle(sub, payment_succeeds)
            return self.events[mark:]

    def cancel_now(self, subscription_id: str) -> list[JsonDict]:
        """Cancel immediately, as ``DELETE /v1/subscriptions/:id`` does; return the Events."""
        with self.lock:
            mark = len(self.events)
            self.cancel_subscription(self.get("subscription", subscription_id))
            return self.events[mark:]

    def pay_invoice(self, invoice_id: str, payment_succeeds: bool | None = None) -> list[JsonDict]:
        """Retry payment of an open invoice (Stripe's Smart Retries, or the customer updating the card)."""
        with self.lock:
            mark = len(self.events)
            inv = self.get("invoice", invoice_id)
            sub = self.objects[inv["parent"]["subscription_details"]["subscription"]]
            self.attempt_invoice(inv, sub, payment_succeeds)
            return self.events[mark:]

    def advance_time(self, seconds: int) -> list[JsonDict]:
        """Move Stripe's clock on and do what falls due meanwhile: renewals, period-end cancellations,
        expiry of unpaid first invoices. Return the Events, in order."""
        with self.lock:
            mark = len(self.events)
            target = self.now() + seconds
            while due := self._next_due(target):
                when, sub = due
                self.clock_offset += max(0, when - self.now())
                if sub["status"] == "incomplete":
                    self._expire(sub)
                elif sub["cancel_at_period_end"]:
                    self.cancel_subscription(sub)
                else:
                    self._cycle(sub, None)
            self.clock_offset += max(0, target - self.now())
            return self.events[mark:]

    # -- subscriptions ---------------------------------------------------------------------------------

    def recurring_price(self, price_id: str | None, param: str) -> JsonDict:
        if not price_id:
            raise StripeError(400, f"Missing required param: {param}.", param=param, code="parameter_missing")
        found = self.get("price", price_id, param)
        if found["type"] != "recurring":
            raise StripeError(
                400,
                "The price specified is set to `type=one_time` but this field only accepts "
                "prices with `type=recurring`.",
                param=param,
            )
        if not found["active"]:
            raise StripeError(
                400, "The price specified is inactive. This field only accepts active prices.", param=param
            )
        return found

    def create_subscription(
        self,
        cust: JsonDict,
        items: list[tuple[str, int]],
        params: JsonDict,
        *,
        attempt_payment: bool = True,
        payment_succeeds: bool | None = None,
    ) -> JsonDict:
        """Create a subscription and its first invoice, and (if ``attempt_payment``) charge it.

        Ends ``active`` (paid), ``trialing`` (``trial_period_days``) or ``incomplete`` (unpaid).
        ``payment_succeeds`` overrides what the card would do.
        """
        if not items:
            raise StripeError(400, "Missing required param: items.", param="items", code="parameter_missing")
        prices = [
            self.recurring_price(price_id, f"items[{i}][price]") for i, (price_id, _) in enumerate(items)
        ]
        if (
            len(
                {
                    (p["currency"], p["recurring"]["interval"], p["recurring"]["interval_count"])
                    for p in prices
                }
            )
            > 1
        ):
            raise StripeError(
                400,
                "All prices on a subscription must have the same `currency` and `recurring[interval]`.",
                param="items",
            )
        now = self.now()
        sub = documents.subscription(now, new_id("sub"), cust["id"], prices[0]["currency"], params)
        sub["metadata"] = merge_metadata({}, params.get("metadata"))
        if params.get("default_payment_method"):
            sub["default_payment_method"] = self.card_id(cust, params["default_payment_method"])
        trial_days = int(params.get("trial_period_days") or 0)
        recurring = prices[0]["recurring"]
        end = (
            now + trial_days * 86400
            if trial_days
            else build.add_interval(now, recurring["interval"], recurring["interval_count"])
        )
        for price_obj, (_, quantity) in zip(prices, items, strict=True):
            item = documents.subscription_item(now, sub["id"], price_obj["id"], quantity, (now, end))
            sub["items"]["data"].append(self.put(item))
        sub["items"]["total_count"] = len(items)
        if trial_days:
            sub.update(status="trialing", trial_start=now, trial_end=end)
        if params.get("cancel_at_period_end") == "true":
            sub.update(cancel_at_period_end=True, cancel_at=end, canceled_at=now)
        self.put(sub)
        mark = len(self.events)
        inv = self._invoice(sub, "subscription_create", charge_items=not trial_days)
        if not trial_days and attempt_payment:
            paid = self.attempt_invoice(inv, sub, payment_succeeds, quiet=True)
            sub["status"] = "active" if paid else "incomplete"
        self.events.insert(mark, self.record("customer.subscription.created", sub))
        self.events.pop()
        return sub

    def update_subscription(self, sub: JsonDict, params: JsonDict) -> JsonDict:
        if sub["status"] in ("canceled", "incomplete_expired") and set(params) - {"metadata", "expand"}:
            raise StripeError(
                400, "A canceled subscription can only update its cancellation_details and metadata."
            )
        before = self.render(sub)
        now = self.now()
        price_changes = self.price_changes(sub, params.get("items") or [])
        for i, change in enumerate(params.get("items") or []):
            self._change_item(sub, change, i, now)
        if "cancel_at_period_end" in params:
            if params["cancel_at_period_end"] == "true":
                end = sub["items"]["data"][0]["current_period_end"]
                sub.update(cancel_at_period_end=True, cancel_at=end, canceled_at=now)
                sub["cancellation_details"] = {
                    **sub["cancellation_details"],
                    "reason": "cancellation_requested",
                }
            else:
                sub.update(cancel_at_period_end=False, cancel_at=None, canceled_at=None)
                sub["cancellation_details"] = {**sub["cancellation_details"], "reason": None}
        if "default_payment_method" in params:
            card = params["default_payment_method"]
            sub["default_payment_method"] = (
                self.card_id(self.get("customer", sub["customer"]), card) if card else None
            )
        if "metadata" in params:
            sub["metadata"] = merge_metadata(sub["metadata"], params["metadata"])
        if "description" in params:
            sub["description"] = params["description"] or None
        lines, new_period = prorations.prorate(price_changes, int(params.get("proration_date") or now))
        if new_period is not None:
            for item in sub["items"]["data"]:
                item["current_period_start"], item["current_period_end"] = new_period
        self.record("customer.subscription.updated", sub, before)
        if price_changes and (params.get("proration_behavior") == "always_invoice" or new_period):
            inv = self.proration_invoice(sub, lines, store=True)
            if self.attempt_invoice(inv, sub, None, quiet=True) is False and sub["status"] == "active":
                before = self.render(sub)
                sub["status"] = "past_due"
                self.record("customer.subscription.updated", sub, before)
        return sub

    def price_changes(self, sub: JsonDict, changes: list[JsonDict]) -> list[prorations.PriceChange]:
        """The items of ``sub`` whose price ``changes`` (``items[...]`` parameters) would replace."""
        found = []
        for change in changes:
            item = next((it for it in sub["items"]["data"] if it["id"] == change.get("id")), None)
            if item is None or not change.get("price") or change["price"] == item["price"]:
                continue
            new_price = self.recurring_price(change["price"], "items[][price]")
            found.append(prorations.PriceChange(dict(item), self.objects[item["price"]], new_price))
        return found

    def proration_invoice(
        self, sub: JsonDict, lines: list[prorations.ProrationLine], *, store: bool
    ) -> JsonDict:
        """The invoice of proration ``lines``: made and finalized (``store``), or else a preview."""
        cust = self.get("customer", sub["customer"])
        number = f"{cust['invoice_prefix']}-{cust['next_invoice_sequence']:04d}" if store else None
        inv_id = new_id("in") if store else "upcoming_" + new_id("in")
        inv = documents.invoice(self.now(), inv_id, cust, sub, "subscription_update", number)
        for line in lines:
            item = {
                "id": line.item_id,
                "quantity": 1,
                "current_period_start": line.period[0],
                "current_period_end": line.period[1],
            }
            rendered = documents.invoice_line(inv["id"], sub, item, self.objects[line.price_id], line.amount)
            rendered["description"] = line.description
            rendered["parent"]["subscription_item_details"]["proration"] = line.proration
            inv["lines"]["data"].append(rendered)
        total, due = sum(line.amount for line in lines), prorations.amount_due(lines)
        inv["lines"]["total_count"] = len(lines)
        inv.update(
            amount_due=due,
            amount_remaining=due,
            subtotal=total,
            subtotal_excluding_tax=total,
            total=total,
            total_excluding_tax=total,
        )
        if not store:
            inv["status"] = "draft"
            return inv
        cust["next_invoice_sequence"] += 1
        self.put(inv)
        sub["latest_invoice"] = inv["id"]
        self.record("invoice.created", inv)
        inv.update(
            status="open",
            hosted_invoice_url=f"https://invoice.stripe.com/i/{inv['id']}",
            invoice_pdf=f"https://pay.stripe.com/invoice/{inv['id']}/pdf",
        )
        inv["status_transitions"]["finalized_at"] = self.now()
        self.record("invoice.finalized", inv)
        if due == 0:
            self._mark_paid(inv)
        return inv

    def give_up_on_payment(self, subscription_id: str, then: str = "canceled") -> list[JsonDict]:
        """Stripe's last retry of a past-due invoice failed: the subscription becomes ``then`` (``canceled``
        or ``unpaid``, as the account's settings say). Returns the Events."""
        with self.lock:
            mark = len(self.events)
            sub = self.get("subscription", subscription_id)
            if then == "canceled":
                self.cancel_subscription(sub, reason="payment_failed")
            else:
                before = self.render(sub)
                sub["status"] = "unpaid"
                self.record("customer.subscription.updated", sub, before)
            return self.events[mark:]

    def _change_item(self, sub: JsonDict, change: JsonDict, index: int, now: int) -> bool:
        items = sub["items"]["data"]
        if item_id := change.get("id"):
            item = next((item for item in items if item["id"] == item_id), None)
            if item is None:
                raise missing("subscription item", item_id, f"items[{index}][id]")
            if change.get("deleted") == "true":
                items.remove(item)
                del self.objects[item_id]
            else:
                if change.get("price"):
                    item["price"] = self.recurring_price(change["price"], f"items[{index}][price]")["id"]
                if change.get("quantity"):
                    item["quantity"] = int(change["quantity"])
                item["metadata"] = merge_metadata(item["metadata"], change.get("metadata"))
        else:
            price_obj = self.recurring_price(change.get("price"), f"items[{index}][price]")
            period = (items[0]["current_period_start"], items[0]["current_period_end"])
            quantity = int(change.get("quantity") or 1)
            item = documents.subscription_item(now, sub["id"], price_obj["id"], quantity, period)
            items.append(self.put(item))
        if not items:
            raise StripeError(400, "A subscription must have at least one active plan.", param="items")
        sub["items"]["total_count"] = len(items)
        return bool(change.get("price") or change.get("quantity") or change.get("deleted"))

    def cancel_subscription(self, sub: JsonDict, reason: str = "cancellation_requested") -> JsonDict:
        if sub["status"] in ("canceled", "incomplete_expired"):
            raise StripeError(400, f"This subscription has already been canceled ({sub['id']}).")
        now = self.now()
        sub.update(status="canceled", ended_at=now, canceled_at=sub["canceled_at"] or now)
        sub["cancellation_details"] = {**sub["cancellation_details"], "reason": reason}
        self.record("customer.subscription.deleted", sub)
        return sub

    def _next_due(self, until: int) -> tuple[int, JsonDict] | None:
        due: list[tuple[int, int, JsonDict]] = []
        for sub in self.all_of("subscription"):
            if sub["status"] == "incomplete":
                due.append((sub["created"] + INCOMPLETE_EXPIRES_AFTER, self._order[sub["id"]], sub))
            elif sub["status"] in ("active", "trialing", "past_due", "unpaid"):
                due.append((sub["items"]["data"][0]["current_period_end"], self._order[sub["id"]], sub))
        due = [entry for entry in due if entry[0] <= until]
        return (min(due)[0], min(due)[2]) if due else None

    def _expire(self, sub: JsonDict) -> None:
        before = self.render(sub)
        inv = self.objects[sub["latest_invoice"]]
        inv["status"] = "void"
        inv["status_transitions"]["voided_at"] = self.now()
        self.record("invoice.voided", inv)
        sub.update(status="incomplete_expired", ended_at=self.now())
        self.record("customer.subscription.updated", sub, before)

    def _cycle(self, sub: JsonDict, payment_succeeds: bool | None) -> None:
        """Start the next period: move every item's period on, invoice it, charge it."""
        if sub["status"] not in ("active", "trialing", "past_due", "unpaid"):
            raise StripeError(400, f"Subscription {sub['id']} is {sub['status']} and does not renew.")
        before = self.render(sub)
        for item in sub["items"]["data"]:
            recurring = self.objects[item["price"]]["recurring"]
            start = item["current_period_end"]
            item["current_period_start"] = start
            item["current_period_end"] = build.add_interval(
                start, recurring["interval"], recurring["interval_count"]
            )
        inv = self._invoice(sub, "subscription_cycle")
        paid = self.attempt_invoice(inv, sub, payment_succeeds, quiet=True)
        sub["status"] = "active" if paid else "past_due"
        self.record("customer.subscription.updated", sub, before)

    # -- invoices and payments -------------------------------------------------------------------------

    def _invoice(self, sub: JsonDict, reason: str, *, charge_items: bool = True) -> JsonDict:
        """A finalized (open) invoice for the subscription's items; paid at once when it comes to zero."""
        cust = self.get("customer", sub["customer"])
        number = f"{cust['invoice_prefix']}-{cust['next_invoice_sequence']:04d}"
        cust["next_invoice_sequence"] += 1
        inv = documents.invoice(self.now(), new_id("in"), cust, sub, reason, number)
        for item in sub["items"]["data"]:
            price_obj = self.objects[item["price"]]
            amount = price_obj["unit_amount"] * item["quantity"] if charge_items else 0
            inv["lines"]["data"].append(documents.invoice_line(inv["id"], sub, item, price_obj, amount))
        total = sum(line["amount"] for line in inv["lines"]["data"])
        inv["lines"]["total_count"] = len(inv["lines"]["data"])
        inv.update(
            amount_due=total,
            amount_remaining=total,
            subtotal=total,
            subtotal_excluding_tax=total,
            total=total,
            total_excluding_tax=total,
        )
        self.put(inv)
        sub["latest_invoice"] = inv["id"]
        self.record("invoice.created", inv)
        inv.update(
            status="open",
            hosted_invoice_url=f"https://invoice.stripe.com/i/{inv['id']}",
            invoice_pdf=f"https://pay.stripe.com/invoice/{inv['id']}/pdf",
        )
        inv["status_transitions"]["finalized_at"] = self.now()
        self.record("invoice.finalized", inv)
        if total == 0:
            self._mark_paid(inv)
        return inv

    def _mark_paid(self, inv: JsonDict) -> None:
        inv.update(
            status="paid", amount_paid=inv["amount_due"], amount_remaining=0, next_payment_attempt=None
        )
        inv["status_transitions"]["paid_at"] = self.now()
        self.record("invoice.paid", inv)
        self.record("invoice.payment_succeeded", inv)

    def attempt_invoice(
        self, inv: JsonDict, sub: JsonDict, succeeds: bool | None, *, quiet: bool = False
    ) -> bool:
        """Charge ``inv`` to the subscription's (else the customer's) default card; True if it is now paid.

        Unless ``quiet`` (the caller records the subscription change itself), a subscription that was
        ``incomplete`` or ``past_due`` becomes ``active`` when this pays it.
        """
        if inv["status"] == "paid":
            return True
        if inv["status"] != "open":
            raise StripeError(400, f"You cannot pay this invoice because it is {inv['status']}.")
        cust = self.get("customer", inv["customer"])
        pm_id = sub["default_payment_method"] or cust["invoice_settings"]["default_payment_method"]
        if succeeds is None:
            succeeds = bool(pm_id) and pm_id not in self.declining_cards and sub["id"] not in self.fail_next
        self.fail_next.discard(sub["id"])
        now = self.now()
        intent = self.objects.get(self.intent_of_invoice.get(inv["id"], ""))
        if intent is None:
            intent = self.put(documents.payment_intent(now, inv, pm_id))
            self.intent_of_invoice[inv["id"]] = intent["id"]
            self.record("payment_intent.created", intent)
        inv.update(attempted=True, attempt_count=inv["attempt_count"] + 1)
        card = self.objects.get(pm_id or "")
        the_charge = None
        if card is not None:
            txn_id = new_id("txn") if succeeds else None
            the_charge = self.put(documents.charge(now, intent, card, succeeds, txn_id))
            intent.update(latest_charge=the_charge["id"], payment_method=card["id"])
            if txn_id:
                self.put(
                    {
                        **documents.balance_transaction(
                            now, intent["amount"], intent["currency"], the_charge["id"]
                        ),
                        "id": txn_id,
                    }
                )
        before = self.render(sub)
        if succeeds:
            intent.update(status="succeeded", amount_received=intent["amount"], last_payment_error=None)
            if the_charge:
                self.record("charge.succeeded", the_charge)
            self.record("payment_intent.succeeded", intent)
            self._mark_paid(inv)
            if not quiet and sub["status"] in ("incomplete", "past_due", "unpaid"):
                sub["status"] = "active"
                self.record("customer.subscription.updated", sub, before)
            return True
        intent.update(
            status="requires_payment_method",
            last_payment_error={
                "charge": the_charge["id"] if the_charge else None,
                "code": "card_declined",
                "decline_code": "generic_decline",
                "message": "Your card was declined.",
                "payment_method": self.render(card) if card else None,
                "type": "card_error",
            },
        )
        if the_charge:
            self.record("charge.failed", the_charge)
        self.record("payment_intent.payment_failed", intent)
        if inv["billing_reason"] != "subscription_create":
            inv["next_payment_attempt"] = now + RETRY_AFTER
        self.record("invoice.payment_failed", inv)
        return False
