"""The guard against server-side request forgery: where a webhook may be sent.

A subscription's URL must be ``http`` or ``https`` with a host and no credentials. Before each
attempt its host is resolved, and every address must be publicly routable: loopback, private,
link-local (cloud metadata services such as ``169.254.169.254`` live there), shared (CGNAT,
``100.64.0.0/10``, home of another metadata address), multicast, reserved and unspecified
addresses are refused. The request then goes to the address that was checked (the host name
still goes in ``Host`` and TLS SNI), so a DNS answer that changes between check and connect
cannot redirect it. Redirects are never followed. ``CALLTRAIL_WEBHOOKS_ALLOW_PRIVATE=1`` lifts
the address rule (for receivers on the same host or network, and for tests).

Only :func:`resolve` does I/O (name resolution); callers run it off the event loop.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

from calltrail.kernel.problems import has_control

SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2048
#: Well-known cloud metadata addresses, named in refusals (each is also non-public).
METADATA_ADDRESSES = frozenset(
    {ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")}
)
URL_RULE = "must be an absolute http or https URL with a host, without credentials, of at most 2048 characters"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(ValueError):
    """A URL or address that webhooks may not be sent to; the message says why."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where one attempt connects: the URL's parts and the checked address to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str

    def pinned_url(self) -> str:
        """The URL with the checked address in place of the host name."""
        ip = ipaddress.ip_address(self.address)
        host = f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    def host_header(self) -> str:
        """``Host`` as the receiver expects it (the port only when it is not the default)."""
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def url_problem(url: object) -> str | None:
    """Why ``url`` cannot be a webhook URL, or None. Syntax only: no resolution."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_LENGTH or has_control(url) or " " in url:
        return URL_RULE
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return URL_RULE
    if parts.scheme.lower() not in SCHEMES or not parts.hostname or parts.username is not None:
        return URL_RULE
    if port == 0:
        return URL_RULE
    return None


def public_problem(address: IPAddress) -> str | None:
    """Why webhooks may not be sent to ``address``, or None for a public address."""
    mapped = getattr(address, "ipv4_mapped", None)
    if mapped is not None:
        address = mapped
    if address in METADATA_ADDRESSES:
        return f"{address} is a cloud metadata address"
    if address.is_unspecified or address.is_multicast:
        return f"{address} is not a public address"
    if address.is_loopback:
        return f"{address} is a loopback address"
    if address.is_link_local:
        return f"{address} is a link-local address"
    if address.is_private:
        return f"{address} is a private address"
    if address.is_reserved or not address.is_global:
        return f"{address} is not a public address"
    return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (an IP literal resolves to itself). Does I/O."""
    literal = _literal(host)
    if literal is not None:
        return [literal]
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise Refused(f"{host} cannot be resolved: {exc}") from None
    return list(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos))


def target(url: str, *, allow_private: bool) -> Target:
    """Resolve and check ``url``; the :class:`Target` to connect to. Raises :class:`Refused`."""
    problem = url_problem(url)
    if problem is not None:
        raise Refused(f"the URL {problem}")
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = str(parts.hostname)
    port = parts.port or (443 if scheme == "https" else 80)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    addresses = resolve(host, port)
    if not addresses:
        raise Refused(f"{host} resolves to no address")
    if not allow_private:
        for address in addresses:
            problem = public_problem(address)
            if problem is not None:
                raise Refused(f"{host} resolves to {problem} (set CALLTRAIL_WEBHOOKS_ALLOW_PRIVATE=1 to allow it)")
    return Target(scheme, host, port, path, str(addresses[0]))


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None
