"""ICE settings of the WHIP server: explicit servers, and which host addresses it offers.

aiortc falls back to a public Google STUN server when ``iceServers`` is unset: we always pass
the configured list (empty by default). aioice offers every address of the machine except
127.0.0.1; ``WHIP_ICE_ADDRESSES`` pins the host candidates (tests pin them to 127.0.0.1, a
node may pin them to its public interface). aioice has no UDP port range: run the node with
host networking, or give browsers a TURN relay (``WHIP_ICE_SERVERS``).
"""

from __future__ import annotations

from collections.abc import Sequence

import aioice.ice
from aiortc import RTCConfiguration, RTCIceServer

_original_host_addresses = aioice.ice.get_host_addresses


def rtc_configuration(servers: Sequence[str]) -> RTCConfiguration:
    return RTCConfiguration(iceServers=[RTCIceServer(urls=url) for url in servers])


def pin_host_addresses(addresses: Sequence[str]) -> None:
    """Offer only ``addresses`` as host candidates (empty: aioice's own choice)."""
    if not addresses:
        aioice.ice.get_host_addresses = _original_host_addresses
        return
    pinned = list(addresses)

    def host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in pinned if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = host_addresses
