"""Every inbound adapter, by provider name: adding a provider is a module plus one line here."""

from __future__ import annotations

from calltrail.adapters import cometchat, freeswitch, janus, kamailio, livekit, twilio
from calltrail.adapters.base import Adapter

ADAPTERS: dict[str, Adapter] = {
    livekit.ADAPTER.provider: livekit.ADAPTER,
    cometchat.ADAPTER.provider: cometchat.ADAPTER,
    twilio.ADAPTER.provider: twilio.ADAPTER,
    freeswitch.ADAPTER.provider: freeswitch.ADAPTER,
    kamailio.ADAPTER.provider: kamailio.ADAPTER,
    janus.ADAPTER.provider: janus.ADAPTER,
}
#: Providers whose translations are room facts, folded per room (``store/rooms.py``), not
#: native events: one of their payloads cannot tell which call it belongs to.
ROOM_FOLDED = frozenset((janus.ADAPTER.provider,))
