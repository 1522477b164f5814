"""Every inbound adapter, by provider name: adding a provider is a module plus one line here."""

from __future__ import annotations

from calltrail.adapters.base import Adapter

ADAPTERS: dict[str, Adapter] = {}
