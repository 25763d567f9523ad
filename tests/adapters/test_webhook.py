from __future__ import annotations

import hashlib
import hmac

import pytest

from hub.adapters import AdapterContext
from hub.adapters.webhook import (
    WebhookSink,
    sign,
    sign_v2,
    signing_input_v2,
    verify_request,
    verify_signature,
)
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


def _receiver_verifies(secret: str, headers: dict[str, str], body: bytes,
                       now: float) -> bool:
    """The receiver side exactly as docs/adapters.md describes it, with the standard
    library only (no hub code): v2 over id, author, timestamp and body."""
    lower = {k.lower(): v for k, v in headers.items()}
    signature = lower.get("callback-authentication", "")
    timestamp = lower.get("callback-timestamp", "")
    if not signature.startswith("v2=") or not timestamp.isdigit():
        return False
    if abs(now - int(timestamp)) > 120:
        return False
    signed = (f"v2\n{lower.get('xoev-message-id', '')}\n{lower.get('xoev-author', '')}\n"
              f"{timestamp}\n").encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha512).hexdigest()
    return hmac.compare_digest("v2=" + expected, signature)


def _post_one(message: object, config: dict[str, object]) -> WebhookReceiver:
    with WebhookReceiver(SECRET, accept_v1=True) as receiver:
        sink = WebhookSink.create({"url": receiver.url, "secret": SECRET, **config},
                                  AdapterContext("a.b", "hook"))

        async def scenario() -> None:
            await sink.start()
            try:
                await sink.deliver([message])  # type: ignore[list-item]
            finally:
                await sink.stop()

        run(scenario())
    return receiver


def test_v2_signature_covers_message_id_author_timestamp_and_body() -> None:
    import time

    from hub.adapters import OutboundMessage

    message = OutboundMessage("a.b", "0b6f2c1e-3c2a-4f55-9f0e-1d2b3c4d5e6f", b"<x>\xc3\xa4</x>",
                              {"xoev-author": "ags:05124000", "xoev-reader": "ags:05122000"})
    receiver = _post_one(message, {})
    headers = {k: v for k, v in receiver.headers[message.message_id].items()}
    body = receiver.received[message.message_id]
    now = time.time()
    assert headers["callback-authentication"].startswith("v2=")
    assert _receiver_verifies(SECRET, headers, body, now)
    assert verify_request(SECRET, headers, body, max_age=120)
    # whatever of the four a man in the middle changes, verification fails
    for name, value in (("xoev-message-id", "11111111-2222-3333-4444-555555555555"),
                        ("xoev-author", "ags:05122000"),
                        ("callback-timestamp", str(int(headers["callback-timestamp"]) - 1))):
        forged = {**headers, name: value}
        assert not _receiver_verifies(SECRET, forged, body, now), name
        assert not verify_request(SECRET, forged, body, max_age=120), name
    dropped = {k: v for k, v in headers.items() if k.lower() != "xoev-author"}
    assert not _receiver_verifies(SECRET, dropped, body, now)
    assert not verify_request(SECRET, dropped, body, max_age=120)
    assert not _receiver_verifies(SECRET, headers, body + b" ", now)
    assert not verify_request("other", headers, body, max_age=120)
    # a version-1 value is refused by a v2 receiver, and v2 fails a v1 check
    v1 = {**headers, "callback-authentication": sign(SECRET, headers["callback-timestamp"], body)}
    assert not verify_request(SECRET, v1, body, max_age=120)
    assert not verify_signature(SECRET, headers["callback-timestamp"], body,
                                headers["callback-authentication"], max_age=120)


def test_v2_signing_input_is_line_separated_and_a_missing_author_is_empty() -> None:
    assert signing_input_v2("id-1", "ags:1", "1700000000", b"<x/>") == (
        b"v2\nid-1\nags:1\n1700000000\n<x/>"
    )
    expected = hmac.new(b"geheim", b"v2\nid-1\n\n1700000000\n<x/>", hashlib.sha512).hexdigest()
    assert sign_v2(SECRET, "id-1", "", "1700000000", b"<x/>") == "v2=" + expected
    headers = {"Callback-Timestamp": "1700000000", "Xoev-Message-Id": "id-1",
               "Callback-Authentication": "v2=" + expected.upper()}
    assert verify_request(SECRET, headers, b"<x/>", max_age=60, now=1700000030)
    assert not verify_request(SECRET, headers, b"<x/>", max_age=60, now=1700000061)
    assert not verify_request(SECRET, {**headers, "xoev-author": "ags:1"}, b"<x/>",
                              max_age=60, now=1700000030)


def test_signature_version_1_still_available_for_unmigrated_receivers() -> None:
    from hub.adapters import OutboundMessage

    message = OutboundMessage("a.b", "id-v1", b"<x/>", {"xoev-author": "ags:05124000"})
    receiver = _post_one(message, {"signature_version": 1})
    headers = receiver.headers["id-v1"]
    assert verify_signature(SECRET, headers["callback-timestamp"], b"<x/>",
                            headers["callback-authentication"], max_age=120)
    assert not headers["callback-authentication"].startswith("v2=")
    with pytest.raises(ConfigError):
        WebhookSink.parse_config({"url": "https://x", "secret": "s", "signature_version": 3})


def _batch_through_driver(receiver: WebhookReceiver, batch: list, attempts: int):  # type: ignore[no-untyped-def,type-arg]
    from prometheus_client import CollectorRegistry

    from hub.adapters import AdapterMetrics, RetryPolicy, SinkDriver

    sink = WebhookSink.create({"url": receiver.url, "secret": SECRET, "timeout_seconds": 5},
                              AdapterContext("a.b", "hook"))
    driver = SinkDriver(sink, adapter="webhook", metrics=AdapterMetrics(CollectorRegistry()),
                        retry=RetryPolicy(attempts=attempts, base_seconds=0.01, jitter=False))

    async def scenario():  # type: ignore[no-untyped-def]
        await sink.start()
        try:
            return await driver.deliver(batch)
        finally:
            await sink.stop()

    return run(scenario())


def test_a_failure_mid_batch_retries_only_that_message() -> None:
    batch = [outbound(n) for n in range(4)]
    ids = [m.message_id for m in batch]
    with WebhookReceiver(SECRET, fail_first={ids[1]: 1}) as receiver:
        dead = _batch_through_driver(receiver, batch, attempts=3)
    assert dead == []
    assert sorted(receiver.accepted_ids) == sorted(ids)  # every message exactly once
    assert receiver.posted_ids == [ids[0], ids[1], ids[1], ids[2], ids[3]]
    assert receiver.received == {m.message_id: m.payload for m in batch}


def test_a_message_failing_every_attempt_is_dead_lettered_alone() -> None:
    batch = [outbound(n) for n in range(3)]
    ids = [m.message_id for m in batch]
    with WebhookReceiver(SECRET, fail_first={ids[1]: 99}) as receiver:
        dead = _batch_through_driver(receiver, batch, attempts=3)
    assert [d.message.message_id for d in dead] == [ids[1]]
    assert dead[0].code == "DELIVERY_RETRIES_EXHAUSTED" and "after 3 attempts" in dead[0].detail
    assert receiver.accepted_ids == [ids[0], ids[2]]
    assert receiver.posted_ids.count(ids[1]) == 3 and receiver.posted_ids.count(ids[0]) == 1
