"""The outbound guard: the pure address policy on tricky inputs, and the transport that pins the checked address."""

from __future__ import annotations

import asyncio
import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from gateway.net.outbound import (
    AllowList,
    GuardedTransport,
    IPAddress,
    OutboundRefused,
    check_url,
    literal_address,
    refusal,
)
from gateway.settings import SettingsError

NOBODY = AllowList()


async def _no_dns(host: str, port: int) -> list[IPAddress]:
    literal = literal_address(host)
    if literal is None:
        raise OSError(f"no DNS in this test: {host}")
    return [literal]


def _resolver(table: dict[str, str]) -> Any:
    async def resolve(host: str, port: int) -> list[IPAddress]:
        literal = literal_address(host)
        if literal is not None:
            return [literal]
        if host not in table:
            raise OSError(f"unknown host {host}")
        return [ipaddress.ip_address(table[host])]

    return resolve


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("0x7f.1", "loopback"),
        ("2130706433", "loopback"),
        ("0177.0.0.1", "loopback"),
        ("127.1", "loopback"),
        ("[::1]", "loopback"),
        ("[::ffff:127.0.0.1]", "loopback"),
        ("[::ffff:7f00:1]", "loopback"),
        ("[64:ff9b::a9fe:a9fe]", "link-local"),
        ("[2002:a9fe:a9fe::]", "link-local"),
        ("169.254.169.254", "link-local"),
        ("0xa9fea9fe", "link-local"),
        ("[fe80::1]", "link-local"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("[fd00::1]", "private"),
        ("100.64.0.1", "non-public"),
        ("0.0.0.0", "unspecified"),
        ("0", "unspecified"),
        ("[::]", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("[ff02::1]", "multicast"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
    ],
)
def test_addresses_that_are_not_public_are_refused(host: str, kind: str) -> None:
    address = literal_address(host)
    assert address is not None, host
    reason = refusal(host, [address], NOBODY)
    assert reason is not None
    assert kind in reason


@pytest.mark.parametrize("host", ["93.184.215.14", "[2606:2800:21f:cb07:6820:80da:af6b:8b2c]", "1.1.1.1"])
def test_public_addresses_are_allowed(host: str) -> None:
    address = literal_address(host)
    assert address is not None
    assert refusal(host, [address], NOBODY) is None


@pytest.mark.parametrize(
    "host", ["metadata.google.internal", "METADATA.google.internal.", "metadata", "instance-data"]
)
def test_metadata_host_names_are_refused_by_name(host: str) -> None:
    reason = refusal(host, [ipaddress.ip_address("93.184.215.14")], NOBODY)
    assert reason is not None
    assert "metadata" in reason


def test_a_name_is_refused_when_any_of_its_addresses_is_refused() -> None:
    addresses = [ipaddress.ip_address("93.184.215.14"), ipaddress.ip_address("10.0.0.5")]
    assert refusal("mixed.example", addresses, NOBODY) == "mixed.example (10.0.0.5) is a private address"


def test_names_that_look_numeric_but_are_not_addresses_stay_names() -> None:
    assert literal_address("1e100.net") is None
    assert literal_address("deadbeef") is None
    assert literal_address("example.com") is None


def test_the_allow_list_lets_cidrs_and_names_through() -> None:
    allow = AllowList.parse("127.0.0.0/8, 10.1.0.0/16, crm.internal, [::1]")
    loopback = ipaddress.ip_address("127.0.0.1")
    assert refusal("127.0.0.1", [loopback], allow) is None
    assert refusal("[::ffff:127.0.0.1]", [ipaddress.ip_address("::ffff:127.0.0.1")], allow) is None
    assert refusal("[::1]", [ipaddress.ip_address("::1")], allow) is None
    assert refusal("crm.internal", [ipaddress.ip_address("192.168.1.1")], allow) is None
    assert refusal("other.internal", [ipaddress.ip_address("10.2.0.1")], allow) is not None
    assert refusal("169.254.169.254", [ipaddress.ip_address("169.254.169.254")], allow) is not None


def test_a_bad_allow_list_entry_is_a_settings_error() -> None:
    with pytest.raises(SettingsError, match="TRUNKLINE_OUTBOUND_ALLOW"):
        AllowList.parse("10.0.0.0/8, http://x/")


def test_check_url_resolves_names() -> None:
    resolver = _resolver({"localhost": "127.0.0.1", "rebind.example": "169.254.169.254"})
    assert "loopback" in (asyncio.run(check_url("http://localhost:8080/x", NOBODY, resolver)) or "")
    assert "link-local" in (asyncio.run(check_url("https://rebind.example/", NOBODY, resolver)) or "")
    assert asyncio.run(check_url("https://unresolvable.example/", NOBODY, resolver)) is None
    assert "metadata" in (asyncio.run(check_url("http://metadata.google.internal/", NOBODY, _no_dns)) or "")


def test_the_transport_refuses_before_connecting() -> None:
    seen: list[httpx.Request] = []
    inner = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200))
    transport = GuardedTransport(NOBODY, inner, _resolver({"evil.example": "127.0.0.1"}))

    async def fetch(url: str) -> None:
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get(url)

    for url in (
        "http://evil.example/",
        "http://0x7f.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://169.254.169.254/",
    ):
        with pytest.raises(OutboundRefused):
            asyncio.run(fetch(url))
    assert seen == []


def test_the_transport_connects_to_the_checked_address_with_the_original_host_and_sni() -> None:
    seen: list[httpx.Request] = []
    inner = httpx.MockTransport(lambda request: seen.append(request) or httpx.Response(200))
    transport = GuardedTransport(NOBODY, inner, _resolver({"api.example": "93.184.215.14"}))

    async def fetch() -> int:
        async with httpx.AsyncClient(transport=transport) as client:
            return (await client.get("https://api.example/v1?q=1")).status_code

    assert asyncio.run(fetch()) == 200
    (request,) = seen
    assert request.url.host == "93.184.215.14"
    assert request.url.path == "/v1"
    assert request.headers["Host"] == "api.example"
    assert request.extensions["sni_hostname"] == "api.example"


@pytest.fixture
def loopback_server() -> Iterator[tuple[str, list[str]]]:
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"{server.server_address[1]}", hosts
    finally:
        server.shutdown()
        server.server_close()


def test_an_allowed_loopback_service_is_reached_over_real_http(
    loopback_server: tuple[str, list[str]],
) -> None:
    port, hosts = loopback_server
    # The name resolves (through the test's resolver) to loopback; the allow-list lets 127.0.0.0/8 through.
    transport = GuardedTransport(
        AllowList.parse("127.0.0.0/8"), resolver=_resolver({"crm.test": "127.0.0.1"})
    )

    async def fetch() -> str:
        async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
            return (await client.get(f"http://crm.test:{port}/x")).text

    assert asyncio.run(fetch()) == "ok"
    assert hosts == [f"crm.test:{port}"]
    refused = GuardedTransport(NOBODY, resolver=_resolver({"crm.test": "127.0.0.1"}))

    async def fetch_refused() -> None:
        async with httpx.AsyncClient(transport=refused) as client:
            await client.get(f"http://crm.test:{port}/x")

    with pytest.raises(OutboundRefused, match=r"crm.test \(127.0.0.1\) is a loopback address"):
        asyncio.run(fetch_refused())
    assert len(hosts) == 1
