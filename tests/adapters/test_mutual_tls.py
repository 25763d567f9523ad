"""The mutual-TLS recipe of docs/adapters.md works: the gateway served with a
client-certificate-requiring SSL context accepts a city's certificate and
refuses a connection without one."""

from __future__ import annotations

import ssl
import subprocess
from pathlib import Path

import aiohttp
import pytest

from hub.adapters import AdapterContext, InboundMessage
from hub.adapters.http_inbound import HttpGateway, HttpInboundSource, token_digest
from hub.testing import run, sample_payload
from hub.testing.tools import require_tool

EC_KEY = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes")


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run([require_tool("openssl"), *args], cwd=cwd, check=True, capture_output=True)


def make_pki(d: Path) -> None:
    openssl("req", "-x509", *EC_KEY, "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "2", "-subj", "/CN=Test City CA", cwd=d)
    for name, cn, ext in (("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1"),
                          ("client", "remscheid.standesamt", "extendedKeyUsage=clientAuth")):
        openssl("req", *EC_KEY, "-keyout", f"{name}.key", "-out", f"{name}.csr",
                "-subj", f"/CN={cn}", cwd=d)
        (d / f"{name}.ext").write_text(ext + "\n")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", f"{name}.pem", "-days", "2",
                "-extfile", f"{name}.ext", cwd=d)


def test_client_certificate_required(tmp_path: Path) -> None:
    make_pki(tmp_path)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    server_ctx.load_verify_locations(tmp_path / "ca.pem")
    server_ctx.verify_mode = ssl.CERT_REQUIRED

    def client_ctx(with_cert: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(tmp_path / "ca.pem"))
        if with_cert:
            ctx.load_cert_chain(tmp_path / "client.pem", tmp_path / "client.key")
        return ctx

    gateway = HttpGateway(64 * 1024)
    source = HttpInboundSource.create({"token_sha256": [token_digest("tok")]},
                                      AdapterContext("remscheid.standesamt", "http", 64 * 1024))
    source.attach(gateway)
    got: list[InboundMessage] = []

    async def emit(message: InboundMessage) -> None:
        got.append(message)

    async def post(port: int, with_cert: bool) -> int:
        url = f"https://127.0.0.1:{port}/v1/authorities/remscheid.standesamt/messages"
        async with aiohttp.ClientSession() as session, session.post(
            url, data=sample_payload(0), ssl=client_ctx(with_cert),
            headers={"Authorization": "Bearer tok", "Content-Type": "application/xml"},
        ) as resp:
            return resp.status

    async def scenario() -> None:
        await source.start(emit)
        port = await gateway.serve("127.0.0.1", 0, ssl_context=server_ctx)
        try:
            assert await post(port, with_cert=True) == 202
            with pytest.raises(aiohttp.ClientError):
                await post(port, with_cert=False)
        finally:
            await source.stop()
            await gateway.close()

    run(scenario())
    assert len(got) == 1
