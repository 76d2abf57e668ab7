"""The access log the Procfile's web process writes: no approval token, no secret parameter."""
from __future__ import annotations

import datetime

from gunicorn.config import Config
from gunicorn.http.wsgi import Response

from api.access_log import MaskingLogger


class _Request:
    headers = [("AUTHORIZATION", "Bearer ork_secret_key"), ("X-API-KEY", "k-123"), ("ACCEPT", "*/*")]


def _line(raw_uri: str, capsys) -> str:
    config = Config()
    config.set("accesslog", "-")
    config.set("access_log_format", '%(h)s "%(r)s" %(s)s "%(f)s" %({authorization}i)s %({x-api-key}i)s %({accept}i)s')
    logger = MaskingLogger(config)
    path, _, query = raw_uri.partition("?")
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": raw_uri, "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": path,
               "QUERY_STRING": query, "REMOTE_ADDR": "127.0.0.1", "HTTP_REFERER": "https://u:pw-1@ref.example/"}
    response = Response(_Request(), None, config)
    response.status = "404 NOT FOUND"
    logger.access(response, _Request(), environ, datetime.timedelta(seconds=1))
    return capsys.readouterr().out.strip()


def test_the_access_log_masks_tokens_in_paths_and_secret_parameters(capsys):
    line = _line("/api/v1/approvals/token/tok-SECRET/approve?api_key=K3Y&page=2", capsys)
    for secret in ("tok-SECRET", "K3Y", "pw-1", "ork_secret_key", "k-123"):
        assert secret not in line
    assert '"POST /api/v1/approvals/token/***/approve?api_key=***&page=2 HTTP/1.1" 404' in line
    assert line.endswith("*** *** */*")
    assert "/approvals/token/approve " in _line("/api/v1/approvals/token/approve", capsys)
