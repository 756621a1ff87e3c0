"""The sender posts over a connection to the address it checked (no second look-up a rebinding DNS
could answer differently), with the URL's host in Host, following no redirect and reading no body."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from webhooks.sender import post_to, resolve


@pytest.fixture
def receiver():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            seen.append((self.headers["Host"], self.path, self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:9/elsewhere")
            self.send_header("Content-Length", "5")
            self.end_headers()
            self.wfile.write(b"hello")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, seen
    server.shutdown()


def test_the_post_goes_to_the_checked_address_under_the_urls_host_and_no_redirect_is_followed(receiver):
    port, seen = receiver
    # the name resolves nowhere: only the address given is ever connected to
    status = post_to("127.0.0.1", f"http://hooks.erp.invalid:{port}/in?x=1", b'{"a":1}',
                     {"content-type": "application/json"})
    assert status == 302
    assert seen == [(f"hooks.erp.invalid:{port}", "/in?x=1", b'{"a":1}')]


def test_names_no_resolver_takes_resolve_to_nothing():
    assert resolve("V(0GoW\u00ca1\ud8d7") == [] and resolve("nothing.invalid") == []
    assert "127.0.0.1" in resolve("localhost")
