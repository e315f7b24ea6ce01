"""Outgoing HTTP for webhooks and SMS/push providers, guarded against server-side request forgery.

Before every request, including each redirect hop, the host is resolved and every address it resolves to
is checked: private, loopback, link-local (169.254.169.254, the cloud metadata service), multicast,
reserved and unspecified addresses are refused unless the workspace allows them. The request is then
sent to the checked address itself (the Host header and TLS server name keep the original host), so a
DNS answer that changes between the check and the connection (DNS rebinding) cannot redirect it.

Failures map to rumbo errors: timeouts, connection errors, 5xx and 429 are retryable; other 4xx are
permanent; more than `max_redirects` hops is permanent.
"""

from __future__ import annotations

import functools
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit, urlunsplit
from urllib.request import getproxies

import httpx

import rumbo
from rumbo.delivery.errors import PermanentDelivery, RetryableDelivery, UnsafeTarget

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def address_kind(address: Address) -> str | None:
    """Why an address is not public ('loopback', 'private', ...), or None when it is a public address."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for kind, flag in (
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("unspecified", address.is_unspecified),
        ("private", address.is_private),
        ("reserved", address.is_reserved),
    ):
        if flag:
            return kind
    return None


@functools.lru_cache(maxsize=64)
def _network(cidr: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    return ipaddress.ip_network(cidr, strict=False)


def resolve(
    channel: str, url: str, *, allow_private: bool, allowed_networks: tuple[str, ...] = ()
) -> tuple[httpx.URL, str]:
    """Check a URL's target; return the URL rewritten to the checked IP address, and the original host.

    `allowed_networks` (CIDR strings) lets a workspace trust some non-public ranges without trusting all.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise PermanentDelivery(channel, f"{url!r} is not an http(s) URL with a host")
    try:
        # An address literal needs no lookup, so its answer never changes: worked out once per URL.
        return _literal(channel, url, allow_private, allowed_networks)
    except ValueError:
        pass
    host = parts.hostname
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise RetryableDelivery(channel, f"cannot resolve {host}: {exc}") from exc
    addresses = [ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos]
    return _checked(channel, url, addresses, allow_private, allowed_networks)


@functools.lru_cache(maxsize=256)
def _literal(
    channel: str, url: str, allow_private: bool, allowed_networks: tuple[str, ...]
) -> tuple[httpx.URL, str]:
    """`resolve` for a URL whose host is an IP address; ValueError when it is a name."""
    address = ipaddress.ip_address(urlsplit(url).hostname or "")
    return _checked(channel, url, [address], allow_private, allowed_networks)


def _checked(
    channel: str, url: str, addresses: list[Address], allow_private: bool, allowed_networks: tuple[str, ...]
) -> tuple[httpx.URL, str]:
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if not addresses:
        raise RetryableDelivery(channel, f"{host} resolves to no address")
    if not allow_private:
        for address in addresses:
            kind = address_kind(address)
            trusted = any(address in _network(n) for n in allowed_networks)
            if kind is not None and not trusted:
                raise UnsafeTarget(channel, url, str(address), kind)
    chosen = addresses[0]
    netloc = f"[{chosen}]:{port}" if chosen.version == 6 else f"{chosen}:{port}"
    return httpx.URL(urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))), host


_HEADERS = {"User-Agent": f"rumbo/{rumbo.__version__}", "Accept": "*/*"}


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    status: int
    body: bytes


class GuardedClient:
    """HTTP POSTs whose every request and redirect hop goes through `resolve` first.

    Requests go straight to an httpx transport (its connection pool, TLS and timeouts) rather than through
    `httpx.Client`: the client's redirect, auth and cookie handling, which this class does not use (it
    follows redirects itself, and a webhook has no cookies), took a fifth of a local webhook send's time.
    When the environment names a proxy (HTTP_PROXY, HTTPS_PROXY, ALL_PROXY, as httpx reads them),
    requests go through an `httpx.Client`, which routes them by those variables and NO_PROXY.
    """

    def __init__(
        self,
        channel: str,
        *,
        timeout: float,
        allow_private: bool,
        allowed_networks: tuple[str, ...] = (),
        max_redirects: int = 3,
    ) -> None:
        self.channel = channel
        self.allow_private = allow_private
        self.allowed_networks = allowed_networks
        self.max_redirects = max_redirects
        self._timeout = httpx.Timeout(timeout).as_dict()
        self._transport = httpx.HTTPTransport()
        proxied = any(scheme in getproxies() for scheme in ("http", "https", "all"))
        self._client = httpx.Client(timeout=timeout, follow_redirects=False) if proxied else None

    def post(self, url: str, *, content: bytes, headers: dict[str, str]) -> HttpAnswer:
        for _hop in range(self.max_redirects + 1):
            target, host = resolve(
                self.channel, url, allow_private=self.allow_private, allowed_networks=self.allowed_networks
            )
            port = urlsplit(url).port
            sent_headers = {**_HEADERS, **headers, "Host": host if port is None else f"{host}:{port}"}
            request = httpx.Request(
                "POST",
                target,
                content=content,
                headers=sent_headers,
                extensions={"sni_hostname": host, "timeout": self._timeout},
            )
            try:
                response = self._send(request)
            except httpx.TimeoutException as exc:
                raise RetryableDelivery(self.channel, f"POST {url} timed out: {type(exc).__name__}") from exc
            except httpx.HTTPError as exc:
                raise RetryableDelivery(self.channel, f"POST {url} failed: {exc}") from exc
            status = response.status_code
            if status in (301, 302, 303, 307, 308) and "location" in response.headers:
                # Followed by hand, so that the next hop's target is checked like the first one.
                url = urljoin(url, response.headers["location"])
                continue
            if 200 <= status < 300:
                return HttpAnswer(status, response.content)
            what = f"POST {url} answered {status}: {response.text[:200]!r}"
            if status >= 500 or status in (408, 425, 429):
                raise RetryableDelivery(self.channel, what)
            raise PermanentDelivery(self.channel, what)
        raise PermanentDelivery(self.channel, f"POST {url}: more than {self.max_redirects} redirects")

    def _send(self, request: httpx.Request) -> httpx.Response:
        if self._client is not None:
            return self._client.send(request)
        response = self._transport.handle_request(request)
        try:
            response.read()
        finally:
            response.close()
        return response

    def close(self) -> None:
        self._transport.close()
        if self._client is not None:
            self._client.close()
