"""Which media nodes serve WHIP, and at which public URL: one WHIP URL per node.

Each node's ``whip_server`` announces itself in the shared cache (Redis) every
``HEARTBEAT_SECONDS``: its node name, its own public endpoint (``WHIP_PUBLIC_URL`` of that node),
its sessions and its capacity; the entry lapses ``TTL_SECONDS`` after the last heartbeat, and a
clean shutdown withdraws it. The studio's Go live picks the announced node with the most free
capacity (``pick_endpoint``), so the browser POSTs to a node that is up; the session's
``Location`` is that node's own URL, so PATCH and DELETE reach the node that holds the session.
With no node announced (a single-node setup whose WHIP server has not started yet) the studio
falls back to the web's own ``WHIP_PUBLIC_URL``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from django.core.cache import cache

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
# A node killed without its clean shutdown is offered to studios this long at most.
TTL_SECONDS = 6
INDEX_KEY = "whip:nodes"


def node_key(node: str) -> str:
    return f"whip:node:{node}"


@dataclass(frozen=True)
class WhipNode:
    node: str
    url: str  # the node's own public WHIP endpoint
    sessions: int
    capacity: int

    @property
    def free(self) -> int:
        return self.capacity - self.sessions


def announce(node: str, url: str, sessions: int, capacity: int) -> None:
    """This node serves WHIP at ``url`` (a heartbeat: call it every HEARTBEAT_SECONDS)."""
    entry = WhipNode(node, url, sessions, capacity)
    cache.set(node_key(node), asdict(entry), timeout=TTL_SECONDS)
    names = cache.get(INDEX_KEY) or []
    if node not in names:
        # Two nodes starting at once may each miss the other here; the next heartbeat puts it back.
        cache.set(INDEX_KEY, sorted({*names, node}), timeout=None)


def withdraw(node: str) -> None:
    """This node stops serving WHIP (clean shutdown): no studio is sent to it any more."""
    cache.delete(node_key(node))


def live_nodes() -> list[WhipNode]:
    """The nodes whose heartbeat is current, in name order."""
    names = cache.get(INDEX_KEY) or []
    found = cache.get_many([node_key(name) for name in names])
    nodes = []
    for name in names:
        entry = found.get(node_key(name))
        if isinstance(entry, dict):
            try:
                nodes.append(WhipNode(**entry))
            except TypeError:
                logger.warning("ignoring a malformed WHIP node entry for %s", name)
    return nodes


def pick_endpoint(fallback: str) -> str:
    """The WHIP endpoint a new session should use: the announced node with the most free capacity
    (a full node only if every node is full), else ``fallback``."""
    nodes = live_nodes()
    if not nodes:
        return fallback
    return max(nodes, key=lambda n: (n.free > 0, n.free, n.node)).url
