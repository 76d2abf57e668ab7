"""The address rule under the model SDKs: an ``httpx2.Client`` (what the ``openai`` and
``anthropic`` SDKs send through) whose every new connection resolves the host, checks every
address (``network.checked_addresses``) and connects to the checked one, while TLS SNI and
the certificate check use the host name. A pooled connection is one that was checked when it
was made; a new one is resolved and checked again, so DNS rebinding finds nothing to use.
Redirects are not followed: a 3xx is answered to the SDK, which reports it as a status error,
so a model call never lands on another address (or carries its key and prompt there)."""
from __future__ import annotations

from collections.abc import Iterable

import httpcore2
import httpx2

from orchestrator.security.network import NetworkError, checked_addresses

# Per client (one endpoint): connections at once (httpx's default), idle ones kept, and how long.
MAX_CONNECTIONS = 100
MAX_KEEPALIVE_CONNECTIONS = 20
KEEPALIVE_EXPIRY_SECONDS = 30.0


class _PinnedBackend(httpcore2.SyncBackend):
    """Connects to an address the rule allows, whatever the host resolves to afterwards."""

    def __init__(self, allow_private: bool, hint: str):
        self._allow_private, self._hint = allow_private, hint

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[httpcore2.SOCKET_OPTION] | None = None) -> httpcore2.NetworkStream:
        try:
            address = checked_addresses(host, port, allow_private=self._allow_private, hint=self._hint)[0]
        except NetworkError as exc:     # a connection error to httpx and the SDKs, the refusal its cause
            raise httpcore2.ConnectError(str(exc)) from exc
        return super().connect_tcp(address, port, timeout, local_address, socket_options)


class _PinnedTransport(httpx2.HTTPTransport):
    """httpx's own transport (its request and error mapping) over a pool that connects through
    ``_PinnedBackend``; httpx takes no network backend, so the pool is replaced after it is built."""

    def __init__(self, allow_private: bool, hint: str):
        tls = httpx2.create_ssl_context()   # the system's CAs, or SSL_CERT_FILE / SSL_CERT_DIR
        super().__init__(verify=tls, trust_env=False)
        self._pool = httpcore2.ConnectionPool(
            ssl_context=tls, max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS, network_backend=_PinnedBackend(allow_private, hint))


def pinned_client(*, allow_private: bool, hint: str, timeout: httpx2.Timeout) -> httpx2.Client:
    """A client for one endpoint that obeys the address rule on every connection it makes."""
    return httpx2.Client(transport=_PinnedTransport(allow_private, hint), timeout=timeout,
                         follow_redirects=False, trust_env=False)
