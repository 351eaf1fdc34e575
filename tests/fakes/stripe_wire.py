"""Stripe's wire format, as pure functions: bracket-notation params, errors, lists and ``expand``.

Nothing here knows about the fake's state; ``stripe_api.FakeStripe`` wires these together.
"""

from __future__ import annotations

import copy
import re
import secrets
import string
from collections.abc import Callable, Iterable
from typing import Any

from tests.fakes.http_server import Reply

JsonDict = dict[str, Any]

_KEY_PART = re.compile(r"\[([^\[\]]*)\]")
_ID_ALPHABET = string.ascii_letters + string.digits


def new_id(prefix: str, length: int = 24) -> str:
    """A Stripe-looking id such as ``sub_1Qx...``: random, so ids never repeat across fakes or test runs."""
    return f"{prefix}_1{''.join(secrets.choice(_ID_ALPHABET) for _ in range(length - 1))}"


def parse_params(pairs: Iterable[tuple[str, str]]) -> JsonDict:
    """Decode Stripe's form encoding into nested dicts and lists.

    ``items[0][price]=p`` becomes ``{"items": [{"price": "p"}]}``; ``expand[]=a`` appends to a list;
    ``metadata[k]=v`` becomes a dict. Values stay strings: Stripe's form encoding carries no types.
    """
    root: JsonDict = {}
    for raw_key, value in pairs:
        head, _, rest = raw_key.partition("[")
        parts = [head, *_KEY_PART.findall("[" + rest)] if rest else [head]
        node: Any = root
        for depth, part in enumerate(parts):
            last = depth == len(parts) - 1
            if part == "":  # "expand[]": append a new slot
                part = str(len(node))
            if last:
                node[part] = value
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise StripeError(400, f"Invalid array or hash for {raw_key}.", param=raw_key)
    return _listify(root)


def _listify(node: Any) -> Any:
    """Turn every dict whose keys are all integers into a list ordered by index."""
    if not isinstance(node, dict):
        return node
    converted = {key: _listify(value) for key, value in node.items()}
    if converted and all(key.isdigit() for key in converted):
        return [converted[key] for key in sorted(converted, key=int)]
    return converted


def as_bool(value: Any, param: str) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise StripeError(400, f"Invalid boolean: {value}", param=param)


def as_int(value: Any, param: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise StripeError(400, f"Invalid integer: {value}", param=param) from None


def as_list(value: Any) -> list[Any]:
    """A param that Stripe documents as an array, however it was encoded (``x[0]=``, ``x[]=`` or ``x=``)."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return [value]


def merge_metadata(current: dict[str, str], update: Any) -> dict[str, str]:
    """Stripe's metadata update rules: ``metadata=`` clears all, ``metadata[k]=`` unsets one key."""
    if update is None:
        return current
    if update == "":
        return {}
    if not isinstance(update, dict):
        raise StripeError(400, "Invalid object", param="metadata")
    merged = dict(current)
    for key, value in update.items():
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = str(value)
    return merged


class StripeError(Exception):
    """An error Stripe would answer with; ``reply()`` renders the error envelope."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type: str = "invalid_request_error",
        extra: JsonDict | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.code = code
        self.type = type
        self.extra = extra or {}

    def reply(self) -> Reply:
        error: JsonDict = {"type": self.type, "message": self.message}
        if self.param is not None:
            error["param"] = self.param
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        error.update(self.extra)
        return Reply(self.status, {"error": error})


def missing(kind: str, object_id: str, param: str = "id") -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", param=param, code="resource_missing")


def required(param: str) -> StripeError:
    return StripeError(400, f"Missing required param: {param}.", param=param, code="parameter_missing")


def list_object(url: str, items: list[JsonDict], params: JsonDict) -> JsonDict:
    """Stripe's cursor pagination of ``items`` (newest first): limit, starting_after, ending_before."""
    limit = as_int(params.get("limit", 10), "limit")
    if not 1 <= limit <= 100:
        raise StripeError(400, "Invalid limit: must be between 1 and 100", param="limit")
    ids = [item["id"] for item in items]
    start, stop = 0, len(items)
    if after := params.get("starting_after"):
        if after not in ids:
            raise StripeError(400, f"Invalid starting_after id: {after}", param="starting_after")
        start = ids.index(after) + 1
    if before := params.get("ending_before"):
        if before not in ids:
            raise StripeError(400, f"Invalid ending_before id: {before}", param="ending_before")
        stop = ids.index(before)
        start = max(start, stop - limit)
    page = items[start:stop][:limit]
    return {"object": "list", "data": page, "has_more": start + len(page) < stop, "url": url}


def matches_created(created: int, condition: Any) -> bool:
    """The ``created`` list filter: an exact timestamp or ``created[gte]=...`` style bounds."""
    if condition is None:
        return True
    if not isinstance(condition, dict):
        return created == as_int(condition, "created")
    checks: dict[str, Callable[[int, int], bool]] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    return all(checks[op](created, as_int(bound, f"created[{op}]")) for op, bound in condition.items())


Resolver = Callable[[str], JsonDict | None]
Includer = Callable[[JsonDict, str], Any]


def expand(obj: JsonDict, paths: Iterable[str], resolve: Resolver, include: Includer) -> JsonDict:
    """Apply ``expand[]`` paths to a rendered object in place and return it.

    ``resolve(id)`` returns the rendered object for an id (or None); ``include(obj, field)`` returns the value
    of an includable field that Stripe only sends when expanded (``line_items``, ``sources``, ...), raising
    KeyError when the field is not one. An unknown top-level field is refused as Stripe does; deeper
    segments that are absent are skipped.
    """
    for path in paths:
        head = path.split(".")[0]
        if head not in obj:
            try:
                obj[head] = include(obj, head)
            except KeyError:
                raise StripeError(
                    400, f"This property cannot be expanded ({path}).", param="expand"
                ) from None
        _expand_path(obj, path.split("."), resolve, include)
    return obj


def _expand_path(node: Any, parts: list[str], resolve: Resolver, include: Includer) -> Any:
    if isinstance(node, list):
        return [_expand_path(item, parts, resolve, include) for item in node]
    if isinstance(node, str):
        node = resolve(node) or node
    if not parts or not isinstance(node, dict):
        return node
    key, rest = parts[0], parts[1:]
    if key not in node:
        try:
            node[key] = include(node, key)
        except KeyError:
            return node
    if node[key] is not None:
        node[key] = _expand_path(node[key], rest, resolve, include)
    return node


def snapshot(obj: JsonDict) -> JsonDict:
    return copy.deepcopy(obj)
