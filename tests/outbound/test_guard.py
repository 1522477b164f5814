"""The guard against server-side request forgery."""

from __future__ import annotations

import ipaddress

import pytest

from calltrail.outbound.guard import Refused, Target, public_problem, target, url_problem


@pytest.mark.parametrize(
    "url",
    ["https://example.com/hook", "http://example.com:8080/x?y=1", "HTTPS://Example.com", "http://[2001:db8::1]/"],
)
def test_http_and_https_urls_with_a_host_are_accepted(url: str) -> None:
    assert url_problem(url) is None


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "file:///etc/passwd", "gopher://x", "https://", "/relative", "https://u:p@example.com/",
     "https://example.com:99999/", "https://exa mple.com", "https://example.com/\n", "", 42, "https://x/" + "a" * 2048],
)  # fmt: skip
def test_other_urls_are_refused(url: object) -> None:
    assert url_problem(url) is not None


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("192.168.0.1", "private"),
        ("172.16.5.5", "private"),
        ("fd12::1", "private"),
        ("169.254.169.254", "metadata"),
        ("169.254.1.1", "link-local"),
        ("fe80::1", "link-local"),
        ("100.100.100.200", "metadata"),
        ("100.64.0.1", "not a public"),
        ("0.0.0.0", "not a public"),
        ("224.0.0.1", "not a public"),
        ("::ffff:127.0.0.1", "loopback"),
    ],
)
def test_non_public_addresses_are_refused(address: str, why: str) -> None:
    problem = public_problem(ipaddress.ip_address(address))
    assert problem is not None and why in problem


def test_public_addresses_pass() -> None:
    assert public_problem(ipaddress.ip_address("93.184.216.34")) is None
    assert public_problem(ipaddress.ip_address("2606:2800:220:1::1")) is None


def test_names_are_resolved_before_they_are_judged() -> None:
    with pytest.raises(Refused, match="loopback"):
        target("http://localhost:9/hook", allow_private=False)
    with pytest.raises(Refused, match="private"):
        target("http://10.0.0.1/hook", allow_private=False)
    with pytest.raises(Refused, match="URL"):
        target("ftp://example.com/", allow_private=True)
    allowed = target("http://localhost:9/hook?a=1", allow_private=True)
    assert allowed.address in ("127.0.0.1", "::1") and allowed.path == "/hook?a=1"


def test_a_target_connects_to_the_checked_address_and_keeps_the_host_name() -> None:
    v6 = Target("https", "example.com", 443, "/h", "2606:2800:220:1::1")
    assert v6.pinned_url() == "https://[2606:2800:220:1::1]:443/h"
    assert v6.host_header() == "example.com"
    assert Target("http", "example.com", 8080, "/", "93.184.216.34").host_header() == "example.com:8080"
