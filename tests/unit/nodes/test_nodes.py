"""Node registry and built-in node types; http_request against a real server on 127.0.0.1."""
import base64
import ipaddress
import json
import logging
import socket
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx2
import pytest
from marshmallow import Schema, ValidationError

from orchestrator.nodes import NodeContext, NodeError, NodeType, Suspend, UnknownNodeType, get_node_type, node_types, register
from orchestrator.nodes import registry
from orchestrator.nodes.builtin import DelayNode, HumanApprovalNode, NoopNode, TransformNode
from orchestrator.nodes.http import HttpRequestNode
from orchestrator.security import network
from orchestrator.security.network import NetworkError, blocked_reason, check_url, safe_request
from orchestrator.security.pinned_httpx import pinned_client
from orchestrator.storable import check_storable

BUILT_INS = {"noop", "transform", "delay", "human_approval", "http_request"}


PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01"


class Handler(BaseHTTPRequestHandler):
    received: list[dict] = []

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", content_type="text/plain", headers=()):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        Handler.received.append({"method": self.command, "path": url.path, "headers": dict(self.headers), "body": body})
        if url.path == "/json":
            self._reply(200, json.dumps({"hello": "world", "n": [1, 2]}).encode(), "application/json")
        elif url.path == "/text":
            self._reply(200, "plain ünïcode".encode("latin-1"), "text/plain; charset=latin-1")
        elif url.path.startswith("/status/"):
            self._reply(int(url.path.rsplit("/", 1)[1]), b"failure detail")
        elif url.path == "/echo":
            echoed = {"method": self.command, "headers": dict(self.headers), "body": body}
            self._reply(200, json.dumps(echoed).encode(), "application/json")
        elif url.path == "/png":
            self._reply(200, PNG, "image/png")
        elif url.path == "/nul-json":
            self._reply(200, b'{"a": "x\\u0000y"}', "application/json")
        elif url.path == "/nul-text":
            self._reply(200, b"a\x00b", "text/plain")
        elif url.path == "/redirect":
            self._reply(int(query.get("code", 302)), headers=[("Location", query["to"])])
        elif url.path == "/loop":
            self._reply(302, headers=[("Location", "/loop")])
        elif url.path == "/slow":
            time.sleep(1.0)
            self._reply(200, b"late")
        else:
            self._reply(404, b"not found")

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _handle


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that gave up (timeout and size tests) breaks the pipe; that is expected


@pytest.fixture(scope="module")
def server():
    httpd = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def clear_received():
    Handler.received.clear()


def context(node_type: type[NodeType], config: dict, allow_private: bool = True) -> NodeContext:
    return NodeContext(
        execution_id="exec-1",
        node_id="step",
        attempt=2,
        config=node_type.config_schema().load(config),
        variables={},
        allow_private_network=allow_private,
    )


def fetch(config: dict, allow_private: bool = True):
    return HttpRequestNode().run(context(HttpRequestNode, config, allow_private))


def resolve_to(monkeypatch, mapping: dict[str, list[str]]):
    """Make getaddrinfo answer ``mapping`` for the named hosts (and the real thing otherwise)."""
    real = socket.getaddrinfo

    def fake(host, port, *args, **kwargs):
        if host in mapping:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in mapping[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(network.socket, "getaddrinfo", fake)


def treat_loopback_ipv4_as_public(monkeypatch):
    """The test server is on 127.0.0.1; let it count as public so only later hops are judged."""
    real = blocked_reason
    monkeypatch.setattr(network, "blocked_reason", lambda ip: None if str(ip) == "127.0.0.1" else real(ip))


# --- registry ---------------------------------------------------------------------------


def test_registry_lists_the_built_ins():
    types = node_types()
    assert BUILT_INS <= set(types)
    assert list(types) == sorted(types)
    assert types["http_request"] is HttpRequestNode and types["noop"] is NoopNode
    for name in BUILT_INS:
        assert get_node_type(name).type_name == name


def test_unknown_type_lists_the_known_ones():
    with pytest.raises(UnknownNodeType) as info:
        get_node_type("teleport")
    assert isinstance(info.value, KeyError)
    message = str(info.value)
    assert message.startswith("unknown node type 'teleport' (known: ") and message.endswith(")")
    known = message[len("unknown node type 'teleport' (known: "):-1].split(", ")
    assert BUILT_INS <= set(known) and known == sorted(known) == info.value.known


def test_register(monkeypatch):
    monkeypatch.setattr(registry, "_registered", {})

    @register
    class Echo(NodeType):
        type_name = "echo"
        config_schema = Schema

        def run(self, ctx):
            return {"echo": True}

    assert get_node_type("echo") is Echo
    assert "echo" in node_types()
    with pytest.raises(TypeError, match="not a NodeType subclass"):
        register(dict)


# --- noop, transform, delay, human_approval ---------------------------------------------


def test_noop_and_transform():
    assert NoopNode().run(context(NoopNode, {})) == {}
    assert TransformNode().run(context(TransformNode, {"output": {"a": [1, "b"]}})) == {"a": [1, "b"]}
    assert TransformNode().run(context(TransformNode, {"output": [1, 2]})) == [1, 2]
    with pytest.raises(ValidationError):
        TransformNode.config_schema().load({})


def test_delay_suspends_until_later():
    before = datetime.now(timezone.utc)
    result = DelayNode().run(context(DelayNode, {"seconds": 90.5}))
    after = datetime.now(timezone.utc)
    assert isinstance(result, Suspend) and result.approval is None and result.output == {}
    assert result.until.tzinfo is not None and result.until.utcoffset() == timedelta(0)
    assert before + timedelta(seconds=90.5) <= result.until <= after + timedelta(seconds=90.5)
    with pytest.raises(ValidationError):
        DelayNode.config_schema().load({"seconds": -1})


def test_human_approval_suspends_for_a_decision():
    before = datetime.now(timezone.utc)
    result = HumanApprovalNode().run(
        context(HumanApprovalNode, {"approver_email": "a@example.com", "expires_in_seconds": 600, "notify_url": "https://example.com/hook"})
    )
    after = datetime.now(timezone.utc)
    assert result.until is None
    request = result.approval
    assert before + timedelta(seconds=600) <= request.expires_at <= after + timedelta(seconds=600)
    assert (request.approver_email, request.notify_url) == ("a@example.com", "https://example.com/hook")
    default = HumanApprovalNode().run(context(HumanApprovalNode, {})).approval
    assert default.approver_email is None and default.notify_url is None
    assert abs((default.expires_at - datetime.now(timezone.utc)).total_seconds() - 86400) < 5
    for bad in ({"expires_in_seconds": 0}, {"notify_url": "file:///etc/passwd"}, {"approver_email": "x"}):
        with pytest.raises(ValidationError):
            HumanApprovalNode.config_schema().load(bad)


def test_human_approval_notifies_with_the_token(server):
    ctx = context(HumanApprovalNode, {"notify_url": f"{server}/echo", "approver_email": "a@example.com"})
    HumanApprovalNode().on_suspended(ctx, "tok-123")
    [request] = Handler.received
    assert request["method"] == "POST" and request["headers"]["Content-Type"] == "application/json"
    payload = json.loads(request["body"])
    assert payload["execution_id"] == "exec-1" and payload["node_id"] == "step"
    assert payload["approval_token"] == "tok-123"
    assert payload["approve_url_path"] == "/api/v1/approvals/token/approve"
    assert payload["reject_url_path"] == "/api/v1/approvals/token/reject"
    expires_at = datetime.fromisoformat(payload["expires_at"])
    assert abs((expires_at - datetime.now(timezone.utc)).total_seconds() - 86400) < 5


def test_human_approval_notification_failures_are_logged_without_the_token(server, caplog):
    caplog.set_level(logging.WARNING, logger="orchestrator.nodes.builtin")
    refused = context(HumanApprovalNode, {"notify_url": f"{server}/echo"}, allow_private=False)
    HumanApprovalNode().on_suspended(refused, "tok-secret")
    failing = context(HumanApprovalNode, {"notify_url": f"{server}/status/500?sig=abc"})
    HumanApprovalNode().on_suspended(failing, "tok-secret")
    assert [r["path"] for r in Handler.received] == ["/status/500"]  # the refused one never left
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == 2
    assert "refusing to connect to 127.0.0.1 (loopback address)" in messages[0]
    assert "HTTP 500" in messages[1]
    assert not any("tok-secret" in message or "sig=abc" in message for message in messages)


def test_human_approval_without_notify_url_sends_nothing(server):
    HumanApprovalNode().on_suspended(context(HumanApprovalNode, {}), "tok")
    assert Handler.received == []


# --- http_request -----------------------------------------------------------------------


def test_json_output(server):
    output = fetch({"url": f"{server}/json"})
    assert output["status_code"] == 200
    assert output["json"] == {"hello": "world", "n": [1, 2]}
    assert output["headers"]["Content-Type"] == "application/json"
    assert "text" not in output


def test_text_output_uses_the_charset(server):
    output = fetch({"url": f"{server}/text"})
    assert output["text"] == "plain ünïcode"
    assert "json" not in output


def test_head_has_an_empty_text(server):
    output = fetch({"method": "head", "url": f"{server}/json"})
    assert output["status_code"] == 200 and output["text"] == ""
    assert Handler.received[0]["method"] == "HEAD"


def test_non_2xx_fails_without_the_query_string(server):
    with pytest.raises(NodeError) as info:
        fetch({"url": f"{server}/status/503?api_key=secret"})
    assert str(info.value) == f"HTTP 503 Service Unavailable from {server}/status/503"


def test_ok_statuses(server):
    assert fetch({"url": f"{server}/status/503", "ok_statuses": [200, 503]})["status_code"] == 503
    with pytest.raises(NodeError, match="HTTP 200 OK"):
        fetch({"url": f"{server}/json", "ok_statuses": [201]})


def test_idempotency_key_and_json_body_are_sent(server):
    output = fetch({"method": "post", "url": f"{server}/echo", "json": {"a": 1}, "headers": {"X-Trace": "t1"}})
    echoed = output["json"]
    assert echoed["method"] == "POST"
    assert echoed["headers"]["Idempotency-Key"] == "exec-1:step:2"
    assert echoed["headers"]["Content-Type"] == "application/json"
    assert echoed["headers"]["X-Trace"] == "t1"
    assert json.loads(echoed["body"]) == {"a": 1}


def test_a_users_idempotency_key_and_body_are_kept(server):
    headers = {"idempotency-key": "mine", "Content-Type": "text/csv"}
    echoed = fetch({"method": "PUT", "url": f"{server}/echo", "body": "a,b\n1,2", "headers": headers})["json"]
    assert echoed["headers"]["idempotency-key"] == "mine"
    assert "Idempotency-Key" not in echoed["headers"]
    assert echoed["headers"]["Content-Type"] == "text/csv" and echoed["body"] == "a,b\n1,2"


def test_loopback_is_refused_without_the_allow_flag(server):
    with pytest.raises(NodeError) as info:
        fetch({"url": f"{server}/json"}, allow_private=False)
    assert str(info.value) == (
        "refusing to connect to 127.0.0.1 (loopback address) for host 127.0.0.1; "
        "set ORCHESTRATOR_HTTP_ALLOW_PRIVATE=1 to allow private targets"
    )
    assert Handler.received == []
    assert info.value.retryable is False                  # another attempt cannot succeed


@pytest.mark.parametrize("status, config, retryable", [
    (404, {}, False), (400, {}, False), (403, {}, False), (408, {}, True), (429, {}, True), (500, {}, True),
    (503, {}, True), (409, {"retry_statuses": [409]}, True), (404, {"retry_statuses": [409]}, False),
])
def test_a_client_error_other_than_408_and_429_is_not_retried(server, status, config, retryable):
    with pytest.raises(NodeError) as info:
        fetch({"url": f"{server}/status/{status}", **config})
    assert info.value.retryable is retryable


def test_a_network_failure_is_retried():
    with pytest.raises(NodeError, match="could not connect") as info:
        fetch({"url": "http://127.0.0.1:9/"})
    assert info.value.retryable is True


def test_a_name_resolving_to_loopback_is_refused(monkeypatch):
    resolve_to(monkeypatch, {"internal.example.test": ["127.0.0.1"]})
    with pytest.raises(NetworkError, match=r"refusing to connect to 127\.0\.0\.1 \(loopback address\) for host internal\.example\.test"):
        check_url("http://internal.example.test/", allow_private=False)


def test_any_private_address_among_several_is_refused(monkeypatch):
    resolve_to(monkeypatch, {"mixed.example.test": ["93.184.216.34", "10.1.2.3"]})
    with pytest.raises(NetworkError, match=r"10\.1\.2\.3 \(private address\)"):
        check_url("https://mixed.example.test/", allow_private=False)
    assert check_url("https://mixed.example.test/", allow_private=True) == "93.184.216.34"


def test_redirects_are_followed(server):
    output = fetch({"url": f"{server}/redirect?to=/json"})
    assert output["json"]["hello"] == "world"
    assert [r["path"] for r in Handler.received] == ["/redirect", "/json"]


def test_redirects_can_be_turned_off(server):
    output = fetch({"url": f"{server}/redirect?to=/json", "follow_redirects": False, "ok_statuses": [302]})
    assert output["status_code"] == 302 and output["headers"]["Location"] == "/json"


def test_a_303_turns_a_post_into_a_get_without_body(server):
    echoed = fetch({"method": "POST", "url": f"{server}/redirect?code=303&to=/echo", "json": {"a": 1}})["json"]
    assert echoed["method"] == "GET" and echoed["body"] == ""
    assert "Content-Type" not in echoed["headers"]


def test_a_307_keeps_method_and_body(server):
    echoed = fetch({"method": "POST", "url": f"{server}/redirect?code=307&to=/echo", "body": "x"})["json"]
    assert (echoed["method"], echoed["body"]) == ("POST", "x")


def test_too_many_redirects(server):
    with pytest.raises(NodeError, match="too many redirects \\(more than 5\\)"):
        fetch({"url": f"{server}/loop"})
    assert len(Handler.received) == 6


@pytest.mark.parametrize(
    "target, reason",
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 (link-local address)"),
        ("http://10.0.0.1/admin", "10.0.0.1 (private address)"),
        ("http://[::1]:8080/", "::1 (loopback address)"),
        ("http://0.0.0.0/", "0.0.0.0 (unspecified address)"),
    ],
)
def test_a_redirect_to_a_private_address_is_refused(server, monkeypatch, target, reason):
    # The first hop, to the test server, is treated as public; the redirect's target is not.
    treat_loopback_ipv4_as_public(monkeypatch)
    with pytest.raises(NodeError) as info:
        fetch({"url": f"{server}/redirect?to={target}", "timeout_seconds": 2}, allow_private=False)
    assert str(info.value).startswith(f"refusing to connect to {reason}")
    assert [r["path"] for r in Handler.received] == ["/redirect"]


def test_a_redirect_to_another_scheme_is_refused(server):
    with pytest.raises(NodeError, match="only http and https URLs are allowed, not 'file'"):
        fetch({"url": f"{server}/redirect?to=file:///etc/passwd"})


def test_the_connection_goes_to_the_checked_address(server, monkeypatch):
    """DNS rebinding: later lookups answer 127.0.0.2, where nothing listens; the address
    that was checked (127.0.0.1) is used anyway, and Host still names the host."""
    port = server.rsplit(":", 1)[1]
    answers = iter(["127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host == "api.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers, "127.0.0.2"), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(network.socket, "getaddrinfo", rebinding)
    echoed = fetch({"url": f"http://api.example.test:{port}/echo", "timeout_seconds": 2})["json"]
    assert echoed["headers"]["Host"] == f"api.example.test:{port}"
    assert next(answers, None) is None  # the checked answer was consumed by the check


def test_a_binary_body_is_returned_as_base64_with_its_type(server):
    for path in ("/png", "/nul-text"):
        output = fetch({"url": f"{server}{path}"})
        assert base64.b64decode(output["base64"]) == (PNG if path == "/png" else b"a\x00b")
        assert output["content_type"] == ("image/png" if path == "/png" else "text/plain")
        assert "text" not in output and "json" not in output
        check_storable(output)


def test_json_that_cannot_be_stored_fails_the_attempt_once_with_the_reason(server):
    with pytest.raises(NodeError, match=r"the JSON from http://127.0.0.1:\d+/nul-json cannot be stored: "
                                        r"\$.json.a has a NUL character"):
        fetch({"url": f"{server}/nul-json"})


def test_credentials_are_not_sent_to_another_host_after_a_redirect(server, monkeypatch):
    port = server.rsplit(":", 1)[1]
    resolve_to(monkeypatch, {"other.example.test": ["127.0.0.1"]})
    headers = {"Authorization": "Bearer s3cret", "X-Api-Key": "k", "X-Auth-Token": "t", "Accept": "text/csv"}
    echoed = fetch({"url": f"{server}/redirect?to=http://other.example.test:{port}/echo", "headers": headers})["json"]
    assert not {"Authorization", "X-Api-Key", "X-Auth-Token"} & set(echoed["headers"])
    assert echoed["headers"]["Accept"] == "text/csv"
    same_host = fetch({"url": f"{server}/redirect?to=/echo", "headers": headers})["json"]
    assert (same_host["headers"]["Authorization"], same_host["headers"]["X-Api-Key"]) == ("Bearer s3cret", "k")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.com/f", "gopher://127.0.0.1:70/x"])
def test_other_schemes_are_refused(url):
    with pytest.raises(NetworkError, match="only http and https URLs are allowed"):
        safe_request("GET", url, allow_private=True, timeout=1)
    with pytest.raises(ValidationError, match="Not a valid URL"):
        HttpRequestNode.config_schema().load({"url": url})


@pytest.mark.parametrize(
    "address, reason",
    [
        ("127.0.0.1", "loopback address"),
        ("10.0.0.1", "private address"),
        ("192.168.1.1", "private address"),
        ("172.16.0.1", "private address"),
        ("169.254.169.254", "link-local address"),
        ("224.0.0.1", "multicast address"),
        ("0.0.0.0", "unspecified address"),
        ("240.0.0.1", "reserved address"),
        ("100.64.0.1", "non-public address"),
        ("::1", "loopback address"),
        ("::", "unspecified address"),
        ("fe80::1", "link-local address"),
        ("fc00::1", "private address"),
        ("::ffff:127.0.0.1", "loopback address"),
        ("::ffff:10.0.0.1", "private address"),
        ("2002:7f00:1::", "loopback address"),          # 6to4 of 127.0.0.1
        ("2002:a00:1::1", "private address"),           # 6to4 of 10.0.0.1
        ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "private address"),    # Teredo, client 192.0.2.45
        ("fec0::1", "site-local address"),
        ("93.184.216.34", None),
        ("2606:4700:4700::1111", None),
    ],
)
def test_blocked_reason(address, reason):
    assert blocked_reason(ipaddress.ip_address(address)) == reason


def test_timeout(server):
    started = time.monotonic()
    with pytest.raises(NodeError, match=r"timed out after 0\.2 s waiting for http://127\.0\.0\.1:\d+/slow"):
        fetch({"url": f"{server}/slow", "timeout_seconds": 0.2})
    assert time.monotonic() - started < 0.9


def test_connection_refused():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(NodeError, match=rf"could not connect to http://127\.0\.0\.1:{port}/x"):
        fetch({"url": f"http://127.0.0.1:{port}/x?token=abc"})


def test_unresolvable_host(monkeypatch):
    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(network.socket, "getaddrinfo", fail)
    with pytest.raises(NetworkError, match="cannot resolve host 'nowhere.example.test'"):
        check_url("http://nowhere.example.test/", allow_private=False)


def test_response_size_is_capped(server, monkeypatch):
    monkeypatch.setattr(network, "MAX_RESPONSE_BYTES", 10)
    with pytest.raises(NodeError, match="larger than 10 bytes"):
        fetch({"url": f"{server}/json"})


@pytest.mark.parametrize(
    "config, message",
    [
        ({}, "Missing data for required field"),
        ({"url": "http://x.org", "method": "FETCH"}, "Must be one of"),
        ({"url": "http://x.org", "json": {}, "body": "x"}, "give json or body, not both"),
        ({"url": "http://x.org", "timeout_seconds": 0}, "Must be greater than 0"),
        ({"url": "http://x.org", "headers": {"A": 1}}, "Not a valid string"),
        ({"url": "http://x.org", "ok_statuses": [200, 99]}, "Must be greater than or equal to 100"),
    ],
)
def test_http_config_schema(config, message):
    with pytest.raises(ValidationError, match=message):
        HttpRequestNode.config_schema().load(config)


def test_http_config_defaults():
    config = HttpRequestNode.config_schema().load({"url": "http://localhost:8000/x", "method": "post"})
    assert config == {
        "url": "http://localhost:8000/x",
        "method": "POST",
        "headers": {},
        "retry_statuses": [],
        "timeout_seconds": 30.0,
        "follow_redirects": True,
    }


def _certificate_authority(tmp_path, host: str):
    """A throwaway CA (its PEM file) and a server certificate for ``host`` signed by it."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    def certificate(subject, issuer, key, signing_key, is_ca, names=()):
        now = datetime.now(timezone.utc)
        builder = (x509.CertificateBuilder().subject_name(subject).issuer_name(issuer).public_key(key.public_key())
                   .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
                   .not_valid_after(now + timedelta(hours=1))
                   .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True))
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        return builder.sign(signing_key, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test CA")])
    ca = certificate(ca_name, ca_name, ca_key, ca_key, True)
    leaf = certificate(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host)]), ca_name, server_key, ca_key,
                       False, [host])
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.pem").write_bytes(leaf.public_bytes(serialization.Encoding.PEM) + server_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return tmp_path / "ca.pem", tmp_path / "server.pem"


@pytest.fixture
def https_server(tmp_path, monkeypatch):
    """An HTTPS server on 127.0.0.1 with a certificate for api.example.test, trusted by requests."""
    import ssl

    import requests

    ca, chain = _certificate_authority(tmp_path, "api.example.test")
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(chain)
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    real_request = requests.Session.request
    monkeypatch.setattr(requests.Session, "request", lambda self, *a, **kw: real_request(self, *a, verify=str(ca), **kw))
    yield httpd.server_address[1]
    httpd.shutdown()
    httpd.server_close()


def test_https_goes_to_the_checked_address_and_verifies_the_urls_host(https_server, monkeypatch):
    """DNS rebinding over HTTPS: the connection goes to the checked 127.0.0.1 (later lookups
    answer 127.0.0.2, where nothing listens), while SNI and the certificate check use the URL's
    host; a certificate for another host is still refused."""
    answers = iter(["127.0.0.1"])
    real = socket.getaddrinfo

    def rebinding(host, port, *args, **kwargs):
        if host in ("api.example.test", "other.example.test"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (next(answers, "127.0.0.2"), port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(network.socket, "getaddrinfo", rebinding)
    echoed = fetch({"url": f"https://api.example.test:{https_server}/echo", "timeout_seconds": 5})["json"]
    assert echoed["headers"]["Host"] == f"api.example.test:{https_server}"

    answers = iter(["127.0.0.1"])
    with pytest.raises(NodeError, match="certificate") as refused:
        fetch({"url": f"https://other.example.test:{https_server}/echo", "timeout_seconds": 5})
    assert "other.example.test" in str(refused.value)


def test_the_model_sdks_client_goes_to_the_checked_address_over_https(https_server, tmp_path, monkeypatch):
    """The httpx client under the model SDKs: the same rebinding over HTTPS goes to the checked
    address with SNI and the certificate check on the URL's host; a new connection (this server
    closes each one) is resolved again; a certificate for another host is refused."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "ca.pem"))      # trust the test CA
    answers = iter(["127.0.0.1"])
    real = network.resolve
    monkeypatch.setattr(network, "resolve", lambda host, port: [next(answers, "127.0.0.2")]
                        if host.endswith(".example.test") else real(host, port))
    with pinned_client(allow_private=True, hint="", timeout=httpx2.Timeout(5)) as client:
        echoed = client.get(f"https://api.example.test:{https_server}/echo").json()
        assert echoed["headers"]["Host"] == f"api.example.test:{https_server}"
        with pytest.raises(httpx2.ConnectError, match="Connection refused"):      # 127.0.0.2 now
            client.get(f"https://api.example.test:{https_server}/json")
        answers = iter(["127.0.0.1"])
        with pytest.raises(httpx2.ConnectError, match="certificate"):
            client.get(f"https://other.example.test:{https_server}/echo")
    assert [r["path"] for r in Handler.received] == ["/echo"]


def test_the_model_sdks_client_refuses_a_private_address_and_follows_no_redirect(server):
    with pinned_client(allow_private=False, hint="the hint", timeout=httpx2.Timeout(5)) as client:
        with pytest.raises(httpx2.ConnectError, match=r"refusing to connect to 127\.0\.0\.1 \(loopback address\) "
                                                      r"for host 127\.0\.0\.1; the hint"):
            client.get(f"{server}/json")
    with pinned_client(allow_private=True, hint="", timeout=httpx2.Timeout(5)) as client:
        assert client.get(f"{server}/redirect?code=307&to=/json").status_code == 307
    assert [r["path"] for r in Handler.received] == ["/redirect"]
