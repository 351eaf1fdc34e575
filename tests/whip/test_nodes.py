"""One WHIP URL per media node: two ``manage.py whip_server`` processes (two nodes, their own ports and
WHIP_PUBLIC_URL) announce themselves in the shared cache; the studio's Go live sends a new session
to the node with the most free capacity, and the session's Location is that node's own URL."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from billing.plans import PlanName
from studio.live import start_browser_publish
from tests.rtmp_stack import free_port
from tests.streaming.conftest import creator, node_name, wait_for
from tests.whip.client import WhipClient
from tests.whip.conftest import WhipProcess
from whip.registry import live_nodes


def announced() -> dict[str, str]:
    return {node.node: node.url for node in live_nodes()}


def test_the_studio_publishes_to_the_freest_announced_node_whose_location_is_its_own(
    transactional_db: None, tmp_path: Path
) -> None:
    small = WhipProcess(free_port(), node_name("whip-a"), tmp_path / "a.log", env={"WHIP_MAX_SESSIONS": "1"})
    large = WhipProcess(free_port(), node_name("whip-b"), tmp_path / "b.log", env={"WHIP_MAX_SESSIONS": "3"})
    user, _ = creator("nodes@example.com", PlanName.PRO)
    client: WhipClient | None = None
    try:
        small.start()
        large.start()
        wait_for(lambda: {small.node, large.node} <= set(announced()), 15, "both nodes announced")
        assert announced()[small.node] == small.endpoint
        assert announced()[large.node] == large.endpoint

        reply = start_browser_publish(user.pk, "Two nodes")
        assert reply["type"] == "whip", reply
        assert reply["url"] == large.endpoint  # 3 free beats 1 free
        client = WhipClient(str(reply["url"]), str(reply["token"]))
        assert client.publish().status == 201
        # PATCH and DELETE go to the node that holds the session, not to a shared URL.
        assert client.location is not None
        assert re.fullmatch(re.escape(large.endpoint) + r"/sessions/[\w-]+", client.location), client.location
        session_id = client.location.rsplit("/", 1)[1]
        assert f"whip session {session_id[:8]} started" in large.output()
        assert "started for user" not in small.output()

        # A node that shuts down withdraws at once: new sessions go to the other one.
        large.stop()
        assert large.node not in announced()
        assert start_browser_publish(user.pk, "Two nodes")["url"] == small.endpoint
        small.stop()
        assert small.node not in announced()
        # No node announced: this server's own WHIP_PUBLIC_URL, as with one node.
        assert start_browser_publish(user.pk, "Two nodes")["url"] == settings.WHIP_PUBLIC_URL
    finally:
        if client is not None:
            client.close()
        large.stop()
        small.stop()
