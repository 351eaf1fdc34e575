"""Plumbing shared by the fake Stripe's routes: auth, idempotency, errors, rendering, lists, ``expand``."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable

from tests.fakes import stripe_objects as build
from tests.fakes.http_server import FakeService, Reply, Request
from tests.fakes.stripe_billing import StripeBilling
from tests.fakes.stripe_wire import (
    JsonDict,
    StripeError,
    as_bool,
    as_list,
    expand,
    list_object,
    matches_created,
    new_id,
    parse_params,
)

ID = r"(?P<id>[A-Za-z0-9_]+)"
# The shape of a test-mode secret key; dj-stripe 2.11 refuses any other (djstripe.models.api.API_KEY_REGEX).
TEST_SECRET_KEY = re.compile(r"sk_test_[A-Za-z0-9]{24,}\Z")


def params_of(request: Request) -> JsonDict:
    """Query string and form body, decoded from Stripe's bracket notation."""
    pairs = [(key, value) for key, values in request.query.items() for value in values]
    if request.body and "json" not in request.headers.get("content-type", ""):
        pairs += urllib.parse.parse_qsl(request.body.decode(), keep_blank_values=True)
    return parse_params(pairs)


class StripeHTTP(FakeService, StripeBilling):
    def __init__(self, *, api_key: str | None = None, legacy_fields: bool = True) -> None:
        """``api_key``: the only secret key accepted (default: any ``sk_test_`` + 24 or more letters/digits).
        ``legacy_fields``: see ``StripeLedger.render``."""
        FakeService.__init__(self)
        StripeBilling.__init__(self, legacy_fields=legacy_fields)
        self.api_key = api_key
        self._idempotent: dict[str, tuple[str, bytes, Reply]] = {}

    # -- plumbing --------------------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Reply:
        request_id = new_id("req", 14)
        if request.path.startswith("/v1/"):
            refused = self._refuse_key(request.headers.get("authorization", ""))
            if refused is not None:
                return refused
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        with self.lock:
            if key and key in self._idempotent:
                return self._replay(key, request)
            self.request_context = {"id": request_id, "idempotency_key": key}
            try:
                reply = super().dispatch(request)
            except StripeError as error:
                reply = error.reply()
            finally:
                self.request_context = None
            if reply.status == 404 and request.match is None:
                reply = StripeError(
                    404, f"Unrecognized request URL ({request.method}: {request.path})."
                ).reply()
            if key and reply.status < 500:
                self._idempotent[key] = (request.path, request.body, reply)
        reply.headers.setdefault("Request-Id", request_id)
        reply.headers.setdefault("Stripe-Version", build.API_VERSION)
        return reply

    def _refuse_key(self, authorization: str) -> Reply | None:
        scheme, _, key = authorization.partition(" ")
        if scheme.lower() != "bearer" or not key:
            message = "You did not provide an API key. Provide your API key in the Authorization header."
        elif not TEST_SECRET_KEY.match(key) or (self.api_key and key != self.api_key):
            message = f"Invalid API Key provided: {key[:8]}{'*' * max(0, len(key) - 12)}{key[-4:]}"
        else:
            return None
        return Reply(401, {"error": {"message": message, "type": "invalid_request_error"}})

    def _replay(self, key: str, request: Request) -> Reply:
        path, body, reply = self._idempotent[key]
        if (path, body) != (request.path, request.body):
            return StripeError(
                400,
                f"Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{key}' if you meant to "
                f"execute a different request.",
                type="idempotency_error",
            ).reply()
        return Reply(reply.status, reply.body, {**reply.headers, "Idempotent-Replayed": "true"})

    def answer(self, obj: JsonDict, params: JsonDict, status: int = 200) -> Reply:
        rendered = expand(self.render(obj), as_list(params.get("expand")), self._resolve, self.include)
        return Reply(status, rendered)

    def _resolve(self, object_id: str) -> JsonDict | None:
        obj = self.objects.get(object_id)
        return self.render(obj) if obj is not None else None

    def listing(
        self, kind: str, request: Request, keep: Callable[[JsonDict], bool] = lambda obj: True
    ) -> Reply:
        params = params_of(request)
        found = [
            self.render(obj)
            for obj in self.all_of(kind)
            if keep(obj) and matches_created(obj.get("created", 0), params.get("created"))
        ]
        page = list_object(request.path, found, params)
        return Reply(200, expand(page, as_list(params.get("expand")), self._resolve, self.include))

    @staticmethod
    def _active_matches(obj: JsonDict, params: JsonDict) -> bool:
        return "active" not in params or obj["active"] == as_bool(params["active"], "active")

    @staticmethod
    def _id(request: Request) -> str:
        assert request.match is not None
        return request.match["id"]
