"""One guard for the HTTP requests the gateway makes for a tenant (IVR lookups, webhook subscriptions, ...).

Tenants choose these URLs, so without a guard they reach what the gateway reaches: loopback admin ports, the
private network, the cloud metadata service. The rule (`refusal`, pure): every address a host resolves to must be
public, meaning not loopback, private, link-local, multicast, unspecified, reserved or shared, also when written
as 0x7f.1, 2130706433, ::ffff:127.0.0.1 or 64:ff9b::a9fe:a9fe, and metadata host names are refused by name.
TRUNKLINE_OUTBOUND_ALLOW lists CIDRs and host names that are let through anyway (on-premise services, tests).

`GuardedTransport` resolves the name once, checks every address, then connects to the checked address itself
(Host header and TLS SNI / certificate check still use the name), so DNS cannot answer differently in between.
Clients built here never follow redirects.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from gateway.settings import SettingsError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Awaitable[list[IPAddress]]]

METADATA_HOSTS = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.com",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "100-100-100-200.metadata",
    }
)
"""Cloud metadata services by name (their addresses are link-local and refused anyway)."""

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
RESOLVE_TIMEOUT = 5.0


class OutboundRefused(httpx.TransportError):
    """The destination is not allowed; `reason` says why (e.g. "127.0.0.1 is a loopback address")."""

    def __init__(self, reason: str, *, request: httpx.Request | None = None) -> None:
        super().__init__(reason, request=request)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class AllowList:
    networks: tuple[Network, ...] = ()
    hosts: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, spec: str) -> AllowList:
        """`10.0.0.0/8, 127.0.0.1, crm.internal`: CIDRs or addresses, and host names."""
        networks: list[Network] = []
        hosts: set[str] = set()
        for raw in (part.strip() for part in spec.split(",")):
            if not raw:
                continue
            try:
                networks.append(ipaddress.ip_network(raw.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            name = _normal_host(raw)
            if not name or any(c in name for c in "/:@ "):
                raise SettingsError(
                    f"TRUNKLINE_OUTBOUND_ALLOW entry {raw!r} is neither a CIDR nor a host name; "
                    "use e.g. 10.0.0.0/8,crm.internal"
                )
            hosts.add(name)
        return cls(tuple(networks), frozenset(hosts))

    def allows_host(self, host: str) -> bool:
        return _normal_host(host) in self.hosts

    def allows_address(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


def _normal_host(host: str) -> str:
    return host.strip().strip("[]").rstrip(".").lower()


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as an IP literal means, in any form the C library accepts (0x7f.1,
    2130706433, 0177.0.0.1, [::1]); None for host names."""
    text = _normal_host(host).split("%", 1)[0]
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if text and all(c in "0123456789abcdefx." for c in text) and text[0].isdigit():
        try:
            return ipaddress.IPv4Address(socket.inet_aton(text))
        except OSError:
            return None
    return None


def embedded_ipv4(address: IPAddress) -> IPAddress:
    """The IPv4 address inside an IPv4-mapped, NAT64 or 6to4 IPv6 address (these reach IPv4 hosts)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address in _NAT64:
            return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if address.sixtofour is not None:
            return address.sixtofour
    return address


def address_kind(address: IPAddress) -> str | None:
    """Why this address may not be reached ("loopback", "private", ...); None for a public address."""
    address = embedded_ipv4(address)
    for kind, flag in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local (cloud metadata)", address.is_link_local),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
        ("private", address.is_private),
    ):
        if flag:
            return kind
    return None if address.is_global else "non-public"


def refusal(host: str, addresses: list[IPAddress], allow: AllowList) -> str | None:
    """The address policy: why `host` (resolved to `addresses`) may not be reached, or None when it may."""
    name = _normal_host(host)
    if allow.allows_host(name):
        return None
    if name in METADATA_HOSTS:
        return f"{name} is a cloud metadata service"
    if not addresses:
        return f"{name} does not resolve to any address"
    for address in addresses:
        if allow.allows_address(address) or allow.allows_address(embedded_ipv4(address)):
            continue
        kind = address_kind(address)
        if kind is not None:
            shown = name if literal_address(name) == address else f"{name} ({address})"
            return f"{shown} is a {kind} address"
    return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address `host` resolves to (an IP literal is itself)."""
    literal = literal_address(host)
    if literal is not None:
        return [literal]
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=RESOLVE_TIMEOUT
    )
    found: list[IPAddress] = []
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if address not in found:
            found.append(address)
    return found


async def check_url(url: str, allow: AllowList, resolver: Resolver = resolve) -> str | None:
    """Why `url` may not be fetched, or None. Names that cannot be resolved now are let through (they are
    checked again, with the addresses of the moment, when a request is made)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return f"{url!r} has an invalid port"
    if allow.allows_host(host):
        return None
    try:
        addresses = await resolver(host, port)
    except (OSError, TimeoutError):
        return refusal(host, [], allow) if _normal_host(host) in METADATA_HOSTS else None
    return refusal(host, addresses, allow)


class GuardedTransport(httpx.AsyncBaseTransport):
    """Resolve, check, then connect to the checked address (no DNS-rebinding window)."""

    def __init__(
        self,
        allow: AllowList,
        inner: httpx.AsyncBaseTransport | None = None,
        resolver: Resolver = resolve,
    ) -> None:
        self._allow = allow
        self._inner = inner or httpx.AsyncHTTPTransport()
        self._resolver = resolver

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if not self._allow.allows_host(host):
            port = request.url.port or (443 if request.url.scheme == "https" else 80)
            try:
                addresses = await self._resolver(host, port)
            except (OSError, TimeoutError) as error:
                raise httpx.ConnectError(f"cannot resolve {host}: {error}", request=request) from None
            reason = refusal(host, addresses, self._allow)
            if reason is not None:
                raise OutboundRefused(reason, request=request)
            if literal_address(host) is None:
                # Connect to the address just checked; the Host header stays, TLS checks the name.
                request.url = request.url.copy_with(host=str(addresses[0]))
                if request.url.scheme == "https":
                    request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self._inner.aclose()


def outbound_client(allow: AllowList) -> httpx.AsyncClient:
    """An HTTP client for requests made on a tenant's behalf: guarded, redirects never followed."""
    return httpx.AsyncClient(transport=GuardedTransport(allow), follow_redirects=False)
