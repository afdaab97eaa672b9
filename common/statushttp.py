"""A server's HTTP side (`--http ADDR`): its status pages, `/metrics` in Prometheus text format
and `/healthz` for orchestrators, from threads of their own, so a slow page or scrape never
holds an RPC worker."""

from __future__ import annotations

import logging
import socket
import threading
import urllib.parse
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest

from common import errors

log = logging.getLogger(__name__)

Health = Callable[[], tuple[bool, str]]  # (healthy, one line saying why)
Page = Callable[[dict[str, str]], str]  # the query's parameters -> an HTML page
_EVERYWHERE = ("", "0.0.0.0", "::", "[::]")


def reachable(address: str, host: str) -> str:
    """A server's bound HOST:PORT as others reach it: bound to every interface, `host`'s (or,
    if that is every interface too, this machine's address)."""
    bound, port = address.rsplit(":", 1)
    if bound not in _EVERYWHERE:
        return address
    if host in _EVERYWHERE:
        try:
            host = socket.gethostbyname(socket.gethostname())
        except OSError:
            host = "127.0.0.1"
    return f"{host}:{port}"


class StatusHttp:
    def __init__(self, listen: str, health: Health) -> None:
        self.pages: dict[str, Page] = {}  # path -> its page (the status pages, once known)
        host, _, port = listen.rpartition(":")
        try:
            self.httpd = ThreadingHTTPServer(
                (host.strip("[]") or "0.0.0.0", int(port)), _handler(health, self.pages)
            )
        except (OSError, ValueError) as err:
            raise errors.InvalidArgument(f"cannot serve HTTP on {listen!r}: {err}") from None
        self.httpd.daemon_threads = True
        self.address = f"{host}:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="http", daemon=True)

    def reachable(self, host: str) -> str:
        return reachable(self.address, host)

    @property
    def url(self) -> str:
        return f"http://{self.address}/"

    def start(self) -> None:
        self._thread.start()
        log.info("metrics and health on %s", self.url)

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler(health: Health, pages: dict[str, Page]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path, _, query = self.path.partition("?")
            if path in pages:
                params = {k: v[-1] for k, v in urllib.parse.parse_qs(query).items()}
                try:
                    body = pages[path](params)
                except Exception:
                    log.exception("status page %s failed", path)
                    self._send(500, "text/plain", b"this page failed; see the server's log\n")
                    return
                self._send(200, "text/html; charset=utf-8", body.encode())
            elif path == "/metrics":
                self._send(200, CONTENT_TYPE_LATEST, generate_latest(REGISTRY))
            elif path == "/healthz":
                healthy, why = health()
                self._send(200 if healthy else 503, "text/plain", (why + "\n").encode())
            else:
                self._send(404, "text/plain", b"not found: try /, /metrics or /healthz\n")

        def _send(self, status: int, content_type: str, body: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            log.debug("%s " + format, self.address_string(), *args)

    return Handler
