"""The demo's latency readout is measured (send → audit record), over a stated window."""

from __future__ import annotations

from hub.tools.demo import Latencies, Snapshot, render


def test_quantiles_of_the_latest_deliveries_only() -> None:
    latencies = Latencies(window=100)
    assert latencies.quantiles() is None
    for n in range(300):
        latencies.sent(f"id{n}".encode(), 1000.0 + n)
    for n in range(300):  # the first 200 took 5 s, the latest 100 take n/1000 s
        delay = 5.0 if n < 200 else (n - 200) / 1000
        latencies.delivered(f"id{n}".encode(), 1000.0 + n + delay)
    latencies.delivered(b"not-from-the-demo", 2000.0)  # ignored
    quantiles = latencies.quantiles()
    assert quantiles is not None
    p50, p99, count = quantiles
    assert count == 100
    assert abs(p50 - 0.050) < 1e-9 and abs(p99 - 0.099) < 1e-9


def test_render_names_what_was_measured() -> None:
    text = render(Snapshot(), rate=1.0, sent=5, elapsed=3, metrics_url="http://x/metrics",
                  latency=(0.012, 0.048, 37))
    assert "send → audit record p50 12 ms   p99 48 ms   (last 37 deliveries)" in text
    assert "no delivery yet" in render(Snapshot(), rate=0, sent=0, elapsed=0, metrics_url="u")
