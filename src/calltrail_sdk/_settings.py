"""Where the call logs live: :class:`CallAppSettings`, the official SDK's ``CallAppSettings``
without its global ``init``."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

_REGION = re.compile(r"^[a-z0-9-]{1,20}$")
_APP_ID = re.compile(r"^[A-Za-z0-9._-]{1,100}$")
#: The path every CometChat-compatible server serves the client SDKs' endpoints under.
SDK_PATH = "/v3.0"
REST_PATH = "/v3"


def api_base(url: str, default_path: str, what: str = "host") -> str:
    """An API base URL without a trailing slash.

    ``http://localhost:8080`` (a server root, possibly behind a path prefix) gets
    ``default_path`` appended; a URL that already ends in ``/v3`` or ``/v3.0`` (with or without
    the trailing slash the official SDK's ``setHost`` uses) is kept as it is.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"{what} must be an http(s) URL without query or fragment, got {url!r}")
    base = url.rstrip("/")
    if base.endswith(("/v3", "/v3.0")):
        return base
    return base + default_path


@dataclass(frozen=True, slots=True)
class CallAppSettings:
    """Which server (and app) a :class:`~calltrail_sdk.CallLogRequestBuilder` talks to.

    **Parameters:**

    * ``host``: the server's root URL (``http://localhost:8080``), or, as the official SDK's
      ``setHost`` takes it, the URL up to and including ``/v3.0/``. Without a host, the
      request goes to CometChat's own cloud, ``https://{app_id}.call-{region}.cometchat.io/v3.0``.
    * ``app_id``: the app. Calltrail knows the app from the auth token; it is needed only
      without a ``host``.
    * ``region``: ``us``, ``eu`` or ``in`` (used only without a ``host``).
    * ``timeout``: seconds to wait for each answer.

    ```python
    settings = CallAppSettings(host="http://localhost:8080", app_id="demo")
    ```
    """

    host: str | None = None
    app_id: str | None = None
    region: str = "us"
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if self.host is None and self.app_id is None:
            raise ValueError("CallAppSettings needs a host (the server's URL) or an app_id (CometChat's cloud)")
        if self.host is not None:
            api_base(self.host, SDK_PATH)
        if self.app_id is not None and not _APP_ID.match(self.app_id):
            raise ValueError(
                f"app_id must be 1-100 characters of letters, digits, '.', '_' and '-', got {self.app_id!r}"
            )
        if not _REGION.match(self.region):
            raise ValueError(f"region must be a region code such as 'us', 'eu' or 'in', got {self.region!r}")
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, int | float) or not self.timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, got {self.timeout!r}")

    @property
    def base_url(self) -> str:
        """The base URL of the client-SDK endpoints, e.g. ``http://localhost:8080/v3.0``."""
        if self.host is not None:
            return api_base(self.host, SDK_PATH)
        return f"https://{self.app_id}.call-{self.region}.cometchat.io{SDK_PATH}"
