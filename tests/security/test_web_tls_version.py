"""docs/security.md: the web port over HTTPS speaks TLS 1.2 or newer only.

The server context the worker builds from HUB_HTTP_TLS_CERT/KEY sets TLS 1.2 as its
minimum (older versions are not tried here: Python's client refuses them itself) and
serves a TLS 1.2 and a TLS 1.3 client over a plain socket (the HTTPS round trip
through the worker's web app and Kafka is tests/adapters/test_http_tls.py).
"""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

from hub.ops.web import server_ssl_context
from hub.settings import load_settings
from hub.testing.tls import make_local_pki


def _serve_once(context: ssl.SSLContext, listener: socket.socket) -> None:
    conn, _ = listener.accept()
    try:
        with context.wrap_socket(conn, server_side=True) as tls:
            tls.sendall(tls.version().encode() if tls.version() else b"?")
    except (ssl.SSLError, OSError):
        conn.close()


def _handshake(context: ssl.SSLContext, server: ssl.SSLContext) -> str:
    listener = socket.create_server(("127.0.0.1", 0))
    thread = threading.Thread(target=_serve_once, args=(server, listener), daemon=True)
    thread.start()
    try:
        port = listener.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw, \
                context.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return tls.recv(16).decode()
    finally:
        thread.join(timeout=10)
        listener.close()


def test_the_web_port_accepts_tls_1_2_and_newer_only(tmp_path: Path) -> None:
    pki = make_local_pki(tmp_path / "pki")
    server = server_ssl_context(load_settings(
        http_tls_cert=pki.broker_cert, http_tls_key=pki.broker_cert.with_name("broker.key")))
    assert server is not None
    assert server.minimum_version == ssl.TLSVersion.TLSv1_2

    modern = ssl.create_default_context(cafile=str(pki.ca_cert))
    modern.maximum_version = ssl.TLSVersion.TLSv1_2
    assert _handshake(modern, server) == "TLSv1.2"

    newest = ssl.create_default_context(cafile=str(pki.ca_cert))
    newest.minimum_version = ssl.TLSVersion.TLSv1_3
    assert _handshake(newest, server) == "TLSv1.3"
