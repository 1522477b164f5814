"""The integrations page (``/integrations``): which calling stacks post to this app's hooks.

Read-only. Each row is what ``calltrail integrations list`` prints (:meth:`Integration.summary`,
which never holds a secret, a password or its hash), plus when it was created and how its hook
authenticates; reads go through ``stores.integrations`` (and ``stores.voice`` for channel names).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from calltrail.adapters.integrations import Integration
from calltrail.adapters.registry import ADAPTERS
from calltrail.web.pages import Pages, Viewer
from calltrail.web.render import when


def integration_row(integration: Integration, channels: dict[str, str], viewer: Viewer) -> dict[str, Any]:
    """What one line of the table shows: the CLI's summary, never a secret."""
    summary = integration.summary()
    adapter = ADAPTERS.get(integration.provider)
    channel = summary.get("channelId")
    return {
        "id": summary["integrationId"],
        "provider": summary["provider"],
        "kind": "phone calls" if adapter is not None and adapter.domain == "voice" else "in-app calls",
        "channel": channel,
        "channel_name": channels.get(str(channel), "") if channel else "",
        "path": summary["path"],
        "auth": "HTTP Basic" if adapter is not None and adapter.auth == "basic" else "Signature",
        "username": summary.get("username", ""),
        "api_key": summary.get("apiKey", ""),
        "public_url": summary.get("publicUrl", ""),
        "created": when(integration.created_at_ms / 1000, viewer.tz),
    }


class IntegrationPage:
    """``/integrations``."""

    def __init__(self, pages: Pages):
        self.pages = pages
        self.stores = pages.stores

    async def integrations(self, request: Request) -> Response:
        """The app's integrations, oldest first."""

        def view(viewer: Viewer) -> Response:
            found = self.stores.integrations.list(viewer.app_id)
            names = {c.channel_id: c.name for c in self.stores.voice.list_channels(viewer.app_id)} if found else {}
            rows = [integration_row(integration, names, viewer) for integration in found]
            context = self.pages.context(
                viewer, "integrations", "Integrations", integrations=rows, providers=sorted(ADAPTERS)
            )
            return self.pages.html("integrations.html", context)

        return await self.pages.page(request, view)
