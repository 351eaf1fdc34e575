"""Fake Stripe routes for the account, webhook endpoints, products and prices."""

from __future__ import annotations

from tests.fakes import stripe_objects as build
from tests.fakes.http_server import Reply, Request, route
from tests.fakes.stripe_http import ID, StripeHTTP, params_of
from tests.fakes.stripe_wire import (
    JsonDict,
    StripeError,
    as_bool,
    as_int,
    as_list,
    merge_metadata,
    missing,
    required,
)

INTERVALS = ("day", "week", "month", "year")


class CatalogRoutes(StripeHTTP):
    # -- account and webhook endpoints -----------------------------------------------------------------

    @route("GET", r"/v1/account")
    def retrieve_account(self, request: Request) -> Reply:
        return Reply(200, self.account)

    @route("GET", r"/v1/accounts/" + ID)
    def retrieve_account_by_id(self, request: Request) -> Reply:
        if request.match and request.match["id"] != self.account["id"]:
            raise missing("account", request.match["id"], "account")
        return Reply(200, self.account)

    @route("POST", r"/v1/webhook_endpoints")
    def create_webhook_endpoint(self, request: Request) -> Reply:
        params = params_of(request)
        for name in ("url", "enabled_events"):
            if not params.get(name):
                raise required(name)
        endpoint = build.webhook_endpoint(self.now(), params, as_list(params["enabled_events"]))
        endpoint["metadata"] = merge_metadata({}, params.get("metadata"))
        endpoint["_secret"] = endpoint.pop("secret")
        self.put(endpoint)
        return Reply(200, {**self.render(endpoint), "secret": endpoint["_secret"]})

    @route("GET", r"/v1/webhook_endpoints")
    def list_webhook_endpoints(self, request: Request) -> Reply:
        return self.listing("webhook_endpoint", request)

    @route("GET", r"/v1/webhook_endpoints/" + ID)
    def retrieve_webhook_endpoint(self, request: Request) -> Reply:
        return self.answer(self.get("webhook_endpoint", self._id(request)), params_of(request))

    @route("POST", r"/v1/webhook_endpoints/" + ID)
    def update_webhook_endpoint(self, request: Request) -> Reply:
        endpoint, params = self.get("webhook_endpoint", self._id(request)), params_of(request)
        if "url" in params:
            endpoint["url"] = params["url"]
        if "enabled_events" in params:
            endpoint["enabled_events"] = as_list(params["enabled_events"])
        if "disabled" in params:
            endpoint["status"] = "disabled" if as_bool(params["disabled"], "disabled") else "enabled"
        if "description" in params:
            endpoint["description"] = params["description"] or None
        endpoint["metadata"] = merge_metadata(endpoint["metadata"], params.get("metadata"))
        return self.answer(endpoint, params)

    @route("DELETE", r"/v1/webhook_endpoints/" + ID)
    def delete_webhook_endpoint(self, request: Request) -> Reply:
        endpoint = self.get("webhook_endpoint", self._id(request))
        del self.objects[endpoint["id"]]
        return Reply(200, {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True})

    # -- products and prices ---------------------------------------------------------------------------

    @route("POST", r"/v1/products")
    def create_product(self, request: Request) -> Reply:
        params = params_of(request)
        if not params.get("name"):
            raise required("name")
        if params.get("id") and params["id"] in self.objects:
            raise StripeError(400, "Product already exists.", param="id", code="resource_already_exists")
        product = build.product(self.now(), params, params.get("id"))
        product["metadata"] = merge_metadata({}, params.get("metadata"))
        if "active" in params:
            product["active"] = as_bool(params["active"], "active")
        self.record("product.created", self.put(product))
        return self.answer(product, params)

    @route("GET", r"/v1/products")
    def list_products(self, request: Request) -> Reply:
        params = params_of(request)
        ids = as_list(params.get("ids"))
        return self.listing(
            "product", request, lambda p: self._active_matches(p, params) and (not ids or p["id"] in ids)
        )

    @route("GET", r"/v1/products/" + ID)
    def retrieve_product(self, request: Request) -> Reply:
        return self.answer(self.get("product", self._id(request)), params_of(request))

    @route("GET", r"/v1/products/" + ID + "/features")
    def list_product_features(self, request: Request) -> Reply:
        product = self.get("product", self._id(request), "product")
        return Reply(200, build.empty_list(f"/v1/products/{product['id']}/features"))

    @route("POST", r"/v1/products/" + ID)
    def update_product(self, request: Request) -> Reply:
        product, params = self.get("product", self._id(request)), params_of(request)
        before = self.render(product)
        for name in ("name", "description", "statement_descriptor", "unit_label", "url"):
            if name in params:
                product[name] = params[name] or None
        if "active" in params:
            product["active"] = as_bool(params["active"], "active")
        if "default_price" in params:
            if (
                params["default_price"]
                and self.get("price", params["default_price"], "default_price")["product"] != product["id"]
            ):
                raise StripeError(
                    400, "The default price must belong to this product.", param="default_price"
                )
            product["default_price"] = params["default_price"] or None
        product["metadata"] = merge_metadata(product["metadata"], params.get("metadata"))
        product["updated"] = self.now()
        self.record("product.updated", product, before)
        return self.answer(product, params)

    @route("DELETE", r"/v1/products/" + ID)
    def delete_product(self, request: Request) -> Reply:
        product = self.get("product", self._id(request))
        if any(price["product"] == product["id"] for price in self.all_of("price")):
            raise StripeError(
                400, "This product cannot be deleted because it has one or more user-created prices."
            )
        self.record("product.deleted", product)
        del self.objects[product["id"]]
        return Reply(200, {"id": product["id"], "object": "product", "deleted": True})

    @route("POST", r"/v1/prices")
    def create_price(self, request: Request) -> Reply:
        params = params_of(request)
        if not params.get("currency"):
            raise required("currency")
        if params.get("product_data"):
            product = self.put(build.product(self.now(), params["product_data"]))
            self.record("product.created", product)
        elif params.get("product"):
            product = self.get("product", params["product"], "product")
        else:
            raise required("product")
        if "unit_amount" not in params:
            raise required("unit_amount")
        recurring = None
        if rec := params.get("recurring"):
            if rec.get("interval") not in INTERVALS:
                raise StripeError(
                    400,
                    f"Invalid recurring[interval]: must be one of {', '.join(INTERVALS)}",
                    param="recurring[interval]",
                )
            recurring = build.recurring(
                rec["interval"], as_int(rec.get("interval_count", 1), "interval_count")
            )
        price = build.price(
            self.now(), params, product["id"], as_int(params["unit_amount"], "unit_amount"), recurring
        )
        price["metadata"] = merge_metadata({}, params.get("metadata"))
        if "active" in params:
            price["active"] = as_bool(params["active"], "active")
        self._claim_lookup_key(price, params)
        self.record("price.created", self.put(price))
        return self.answer(price, params)

    def _claim_lookup_key(self, price: JsonDict, params: JsonDict) -> None:
        key = params.get("lookup_key")
        if not key:
            return
        holder = next(
            (p for p in self.all_of("price") if p["lookup_key"] == key and p["id"] != price["id"]), None
        )
        if holder is None:
            price["lookup_key"] = key
        elif params.get("transfer_lookup_key") == "true":
            before = self.render(holder)
            holder["lookup_key"] = None
            self.record("price.updated", holder, before)
            price["lookup_key"] = key
        else:
            raise StripeError(
                400, f"A price (`{holder['id']}`) already uses that lookup key.", param="lookup_key"
            )

    @route("GET", r"/v1/prices")
    def list_prices(self, request: Request) -> Reply:
        params = params_of(request)
        keys = as_list(params.get("lookup_keys"))
        interval = (params.get("recurring") or {}).get("interval")

        def keep(price: JsonDict) -> bool:
            return (
                self._active_matches(price, params)
                and (not keys or price["lookup_key"] in keys)
                and params.get("product", price["product"]) == price["product"]
                and params.get("type", price["type"]) == price["type"]
                and params.get("currency", price["currency"]) == price["currency"]
                and (not interval or (price["recurring"] or {}).get("interval") == interval)
            )

        return self.listing("price", request, keep)

    @route("GET", r"/v1/prices/" + ID)
    def retrieve_price(self, request: Request) -> Reply:
        return self.answer(self.get("price", self._id(request)), params_of(request))

    @route("POST", r"/v1/prices/" + ID)
    def update_price(self, request: Request) -> Reply:
        price, params = self.get("price", self._id(request)), params_of(request)
        before = self.render(price)
        if "active" in params:
            price["active"] = as_bool(params["active"], "active")
        if "nickname" in params:
            price["nickname"] = params["nickname"] or None
        if "lookup_key" in params:
            if params["lookup_key"]:
                self._claim_lookup_key(price, params)
            else:
                price["lookup_key"] = None
        price["metadata"] = merge_metadata(price["metadata"], params.get("metadata"))
        self.record("price.updated", price, before)
        return self.answer(price, params)
