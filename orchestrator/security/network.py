"""The one way out to the network: the address rule, and ``safe_request``, the pinned HTTP
client that http nodes, http tools and approval notifications send through (the model SDKs
go through ``orchestrator.security.pinned_httpx``, under the same rule).

The address rule: only http and https; every address the host resolves to must be public
unless private targets are allowed. The connection goes to the address that was checked, not
to whatever a second DNS lookup answers (DNS rebinding): ``_PinnedAdapter`` connects to it
while the Host header, TLS SNI and the certificate check use the host name. Redirects are
followed here, at most ``MAX_REDIRECTS``, and every hop is checked again. ``resolve`` is the
one place a host name becomes addresses (tests replace it to play a resolver).
Error messages name scheme, host and path only: query strings and user info may hold secrets.
"""
from __future__ import annotations

import base64
import email.message
import ipaddress
import json
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from orchestrator.storable import NotStorable, check_storable

SCHEMES = frozenset({"http", "https"})
MAX_REDIRECTS = 5
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
HTTP_ALLOW_PRIVATE_HINT = "set ORCHESTRATOR_HTTP_ALLOW_PRIVATE=1 to allow private targets"
LLM_ALLOW_PRIVATE_HINT = "set ORCHESTRATOR_LLM_ALLOW_PRIVATE=1 to allow private model endpoints"
# Client errors worth another attempt; any other 4xx would get the same answer again.
RETRYABLE_CLIENT_ERRORS = frozenset({408, 429})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Checked in this order, so that the message gives the most telling reason.
_BLOCKED_KINDS = (
    ("unspecified", lambda ip: ip.is_unspecified),
    ("loopback", lambda ip: ip.is_loopback),
    ("link-local", lambda ip: ip.is_link_local),
    ("multicast", lambda ip: ip.is_multicast),
    ("site-local", lambda ip: isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local),
    ("reserved", lambda ip: ip.is_reserved),
    ("private", lambda ip: ip.is_private),
    ("non-public", lambda ip: not ip.is_global),  # e.g. 100.64.0.0/10, shared address space
)
# The headers a redirect to another origin keeps; any other (Authorization, Cookie,
# X-Api-Key, X-Auth-Token...) may be a credential meant for the first host only.
_CROSS_ORIGIN_HEADERS = frozenset({
    "accept", "accept-encoding", "accept-language", "cache-control", "content-language", "content-type",
    "idempotency-key", "if-match", "if-modified-since", "if-none-match", "pragma", "user-agent",
})
# Textual media types (besides text/*) whose bodies are returned as text.
_TEXT_TYPES = ("json", "xml", "javascript", "x-www-form-urlencoded", "yaml", "csv")


class NetworkError(Exception):
    """A request that could not be made or answered; the message is safe to show.
    ``retryable=False``: another attempt would meet the same answer (a refused address, a bad URL)."""

    def __init__(self, message: str, *, retryable: bool = True):
        super().__init__(message)
        self.retryable = retryable


class AddressRefused(NetworkError):
    """The address rule refused the target."""

    def __init__(self, message: str):
        super().__init__(message, retryable=False)


@dataclass(frozen=True)
class HttpResponse:
    status_code: int
    reason: str
    headers: dict[str, str]
    content: bytes
    url: str  # after redirects


def describe_url(url: str) -> str:
    """scheme://host[:port]/path of a URL, without user info or query string."""
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    return f"{parts.scheme}://{netloc}{parts.path}"


def blocked_reason(address: IPAddress) -> str | None:
    """Why connecting to this address is refused without the allow flag, or None."""
    if isinstance(address, ipaddress.IPv6Address):   # IPv4 inside IPv6: mapped, 6to4, Teredo
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo[1] if address.teredo else None)
        if embedded is not None:
            address = embedded
    for kind, applies in _BLOCKED_KINDS:
        if applies(address):
            return f"{kind} address"
    return None


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, in the resolver's order (OSError, UnicodeError if none)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_addresses(host: str, port: int, *, allow_private: bool, hint: str = HTTP_ALLOW_PRIVATE_HINT) -> list[str]:
    """Every address of ``host``, each allowed by the rule (else ``AddressRefused``, naming
    ``hint``); ``NetworkError`` when the host does not resolve."""
    try:
        addresses = resolve(host, port)
    except (OSError, UnicodeError):
        raise NetworkError(f"cannot resolve host {host!r}") from None
    if not addresses:
        raise NetworkError(f"cannot resolve host {host!r}")
    if not allow_private:
        for address in addresses:
            ip = ipaddress.ip_address(address.partition("%")[0])  # drop an IPv6 zone id
            reason = blocked_reason(ip)
            if reason:
                raise AddressRefused(f"refusing to connect to {ip} ({reason}) for host {host}; {hint}")
    return addresses


def check_url(url: str, *, allow_private: bool, hint: str = HTTP_ALLOW_PRIVATE_HINT) -> str:
    """The address to connect to for ``url`` under the rule; ``NetworkError`` if refused."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in SCHEMES:
        raise NetworkError(f"only http and https URLs are allowed, not {parts.scheme or 'one without scheme'!r}",
                           retryable=False)
    host = parts.hostname
    if not host:
        raise NetworkError(f"URL has no host: {describe_url(url)}", retryable=False)
    try:
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise NetworkError(f"URL has an invalid port: {describe_url(url)}", retryable=False) from None
    return checked_addresses(host, port, allow_private=allow_private, hint=hint)[0]


class _PinnedAdapter(HTTPAdapter):
    """Connects to one checked address whatever the URL's host resolves to now."""

    def __init__(self, address: str):
        self._address = address
        super().__init__(max_retries=0)

    def build_connection_pool_key_attributes(self, request, verify, cert=None):  # type: ignore[no-untyped-def]
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            pool_kwargs["server_hostname"] = host_params["host"]
            pool_kwargs["assert_hostname"] = host_params["host"]
        host_params["host"] = self._address
        return host_params, pool_kwargs


def _host_header(parts: SplitResult) -> str:
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host.encode("idna").decode("ascii")
    return f"{host}:{parts.port}" if parts.port else host


def _origin(url: str) -> tuple[str, str | None, int | None]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.hostname, parts.port


def _root_cause(exc: BaseException | None) -> str | None:
    """The operating system's words for a network failure ("Connection refused"), if any."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, OSError) and exc.strerror:
            return exc.strerror
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None


def _network_error(exc: requests.RequestException, where: str, timeout: float) -> NetworkError:
    if isinstance(exc, requests.Timeout):
        return NetworkError(f"timed out after {timeout:g} s waiting for {where}")
    if isinstance(exc, requests.exceptions.SSLError):
        return NetworkError(f"TLS handshake or certificate check failed for {where}")
    if isinstance(exc, requests.ConnectionError):
        cause = _root_cause(exc)
        return NetworkError(f"could not connect to {where}" + (f": {cause}" if cause else ""))
    return NetworkError(f"request to {where} failed ({type(exc).__name__})")


def _read(response: requests.Response, where: str, deadline: float, timeout: float) -> bytes:
    chunks, size = [], 0
    for chunk in response.iter_content(64 * 1024):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise NetworkError(f"response from {where} is larger than {MAX_RESPONSE_BYTES} bytes")
        if time.monotonic() > deadline:
            raise NetworkError(f"timed out after {timeout:g} s waiting for {where}")
        chunks.append(chunk)
    return b"".join(chunks)


def _redirected(
    status: int, method: str, headers: dict[str, str], body: bytes | None, cross_origin: bool
) -> tuple[str, dict[str, str], bytes | None]:
    """Method, headers and body for the next hop, as browsers and requests do it."""
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
    if cross_origin:
        headers = {k: v for k, v in headers.items() if k.lower() in _CROSS_ORIGIN_HEADERS}
    return method, headers, body


def safe_request(
    method: str,
    url: str,
    *,
    allow_private: bool,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    body: bytes | None = None,
    follow_redirects: bool = True,
) -> HttpResponse:
    """Send one HTTP request under the address rule; ``timeout`` bounds the whole exchange.

    Raises NetworkError for a refused target, a network failure, a timeout, more than
    ``MAX_REDIRECTS`` redirects or a body over ``MAX_RESPONSE_BYTES``; any status is returned.
    """
    deadline = time.monotonic() + timeout
    method, headers = method.upper(), dict(headers or {})
    for _ in range(MAX_REDIRECTS + 1):
        address = check_url(url, allow_private=allow_private)
        where, remaining = describe_url(url), deadline - time.monotonic()
        if remaining <= 0:
            raise NetworkError(f"timed out after {timeout:g} s waiting for {where}")
        with requests.Session() as session:
            session.trust_env = False  # no proxies or .netrc credentials from the environment
            session.mount("http://", _PinnedAdapter(address))
            session.mount("https://", _PinnedAdapter(address))
            try:
                with session.request(
                    method, url, headers={"Host": _host_header(urlsplit(url)), **headers}, data=body,
                    timeout=remaining, allow_redirects=False, stream=True,
                ) as response:
                    if not (follow_redirects and response.is_redirect):
                        content = _read(response, where, deadline, timeout)
                        return HttpResponse(
                            response.status_code, response.reason or "", dict(response.headers), content, url
                        )
                    target = urljoin(url, response.headers["location"])
                    method, headers, body = _redirected(
                        response.status_code, method, headers, body, _origin(url) != _origin(target)
                    )
                    url = target
            except requests.RequestException as exc:
                raise _network_error(exc, where, timeout) from None
    raise NetworkError(f"too many redirects (more than {MAX_REDIRECTS}), last to {describe_url(url)}")


def decode_body(response: HttpResponse) -> dict[str, Any]:
    """``{"json": ...}`` if the body parses as JSON, else ``{"text": ...}`` for a textual
    body, else ``{"base64": ..., "content_type": ...}`` (an image, a PDF...)."""
    message = email.message.Message()
    message["content-type"] = next((v for k, v in response.headers.items() if k.lower() == "content-type"), "")
    if response.content:
        try:
            parsed = json.loads(response.content)
        except ValueError:
            pass  # not JSON
        else:
            try:
                check_storable(parsed, "$.json")
            except NotStorable as exc:
                raise NetworkError(f"the JSON from {describe_url(response.url)} cannot be stored: {exc}") from None
            return {"json": parsed}
    text = _text(response.content, message)
    if text is None:
        return {"base64": base64.b64encode(response.content).decode("ascii"), "content_type": message.get_content_type()}
    return {"text": text}


def _text(content: bytes, message: email.message.Message) -> str | None:
    """The body as text if it is text: a textual type (or none given), decoded without error
    and without NUL characters."""
    media_type = message.get_content_type() if message["content-type"] else "text/plain"
    if not (media_type.startswith("text/") or any(kind in media_type for kind in _TEXT_TYPES)):
        return None
    try:
        text = content.decode(message.get_content_charset() or "utf-8")
    except (LookupError, UnicodeDecodeError):  # a charset Python does not know, or binary data
        return None
    return None if "\x00" in text else text
