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
    # Janus translates to room facts, folded per room by the room log (store/rooms.py).
    janus.ADAPTER.provider: janus.ADAPTER,
}
