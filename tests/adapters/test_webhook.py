from __future__ import annotations

import hashlib
import hmac

import pytest

from hub.adapters import AdapterContext
from hub.adapters.webhook import WebhookSink, sign, verify_signature
from hub.errors import ConfigError, MessageError, TransientError
from hub.testing import outbound, run
from hub.testing.builtin import WebhookReceiver

SECRET = "geheim"


def test_signature_is_hex_hmac_sha512_of_timestamp_dot_body() -> None:
    body = b"<x>\xc3\xa4</x>"
    expected = hmac.new(b"geheim", b"1700000000." + body, hashlib.sha512).hexdigest()
    assert sign(SECRET, "1700000000", body) == expected
    assert len(expected) == 128


def test_verify_signature_accepts_fresh_and_rejects_tampering_and_age() -> None:
    body = b"<x/>"
    sig = sign(SECRET, "1700000000", body)
    assert verify_signature(SECRET, "1700000000", body, sig, max_age=60, now=1700000030)
    assert verify_signature(SECRET, "1700000000", body, sig.upper(), max_age=60, now=1700000030)
    assert not verify_signature(SECRET, "1700000000", b"<y/>", sig, max_age=60, now=1700000030)
    assert not verify_signature("other", "1700000000", body, sig, max_age=60, now=1700000030)
    assert not verify_signature(SECRET, "1700000001", body, sig, max_age=60, now=1700000030)
    assert not verify_signature(SECRET, "1700000000", body, sig, max_age=60, now=1700000061)
    assert not verify_signature(SECRET, "1700000000", body, sig, max_age=60, now=1699999900)
    assert not verify_signature(SECRET, "soon", body, sig, max_age=60)


def test_config_needs_exactly_one_secret_and_an_http_url() -> None:
    with pytest.raises(ConfigError, match="exactly one of secret"):
        WebhookSink.parse_config({"url": "https://x"})
    with pytest.raises(ConfigError, match="url must start"):
        WebhookSink.parse_config({"url": "ftp://x", "secret": "s"})


def test_status_codes_map_to_transient_and_permanent() -> None:
    for status, error in ((503, TransientError), (429, TransientError), (400, MessageError)):
        with WebhookReceiver(SECRET, status=status) as receiver:
            sink = WebhookSink.create({"url": receiver.url, "secret": SECRET},
                                      AdapterContext("a.b", "hook"))

            async def scenario(sink: WebhookSink = sink) -> None:
                await sink.start()
                try:
                    await sink.deliver([outbound(0)])
                finally:
                    await sink.stop()

            with pytest.raises(error) as info:
                run(scenario())
            assert receiver.bad_signatures == 0
            if error is MessageError:
                assert info.value.code == "WEBHOOK_REJECTED"  # type: ignore[attr-defined]


def test_secret_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    with WebhookReceiver("from-env") as receiver:
        monkeypatch.setenv("KIT_HOOK_SECRET", "from-env")
        sink = WebhookSink.create({"url": receiver.url, "secret_env": "KIT_HOOK_SECRET"},
                                  AdapterContext("a.b", "hook"))
        message = outbound(3)

        async def scenario() -> None:
            await sink.start()
            await sink.deliver([message])
            await sink.stop()

        run(scenario())
        assert receiver.received == {message.message_id: message.payload}


def test_only_contract_headers_are_forwarded() -> None:
    from hub.adapters import OutboundMessage

    with WebhookReceiver(SECRET) as receiver:
        sink = WebhookSink.create({"url": receiver.url, "secret": SECRET},
                                  AdapterContext("a.b", "hook"))
        message = OutboundMessage("a.b", "id-h", b"<x/>", {
            "xoev-author": "ags:05124000", "traceparent": "00-" + "1" * 32 + "-" + "2" * 16 + "-01",
            "internal-secret": "no", "xoev-bad": "line\r\nInjected: yes",
        })

        async def scenario() -> None:
            await sink.start()
            await sink.deliver([message])
            await sink.stop()

        run(scenario())
        got = {k.lower(): v for k, v in receiver.headers["id-h"].items()}
    assert got["xoev-author"] == "ags:05124000" and "traceparent" in got
    assert "internal-secret" not in got and "xoev-bad" not in got and "injected" not in got


def test_remote_endpoints_need_https_unless_allowed() -> None:
    with pytest.raises(ConfigError, match="https"):
        WebhookSink.parse_config({"url": "http://hooks.example.org/x", "secret": "s"})
    for url in ("https://hooks.example.org/x", "http://127.0.0.1:8080/x", "http://localhost/x"):
        WebhookSink.parse_config({"url": url, "secret": "s"})
    allowed = WebhookSink.parse_config(
        {"url": "http://hooks.example.org/x", "secret": "s", "allow_http": True}
    )
    assert allowed.allow_http is True  # type: ignore[attr-defined]


def test_a_redirect_is_not_followed_and_dead_letters_with_its_own_code() -> None:
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    with WebhookReceiver(SECRET) as target:

        class Redirect(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(307)
                self.send_header("Location", target.url)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return None

        server = HTTPServer(("127.0.0.1", 0), Redirect)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            sink = WebhookSink.create(
                {"url": f"http://127.0.0.1:{server.server_port}/hook", "secret": SECRET},
                AdapterContext("a.b", "hook"),
            )

            async def scenario() -> None:
                await sink.start()
                try:
                    await sink.deliver([outbound(0)])
                finally:
                    await sink.stop()

            with pytest.raises(MessageError) as info:
                run(scenario())
            assert info.value.code == "WEBHOOK_REDIRECT"
            assert target.posts == 0  # body and signature went nowhere else
        finally:
            server.shutdown()
            server.server_close()
