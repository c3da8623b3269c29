"""The benchmarks' own parts, cheaply: their parsers and the bench-only app. The benchmarks
themselves are not run by the tests (speed is measured with ``make bench-*``)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import importlib
import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from bench import apps, common, downloads, licenses, report, scale, webhooks
from shipkey import migrate
from shipkey.db.engine import Database
from shipkey.licensing.keys import check_key

WRK_OUTPUT = """\
Running 10s test @ http://127.0.0.1:8000/bench/empty
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.10ms  412.00us   9.80ms   90.00%
    Req/Sec    30.12k     1.20k   32.00k    70.00%
  Latency Distribution
     50%    2.01ms
     75%    2.20ms
     90%    2.50ms
     99%  850.00us
  301234 requests in 10.00s, 40.00MB read
  Socket errors: connect 0, read 1, write 0, timeout 2
  Non-2xx or 3xx responses: 4
Requests/sec:  30123.40
Transfer/sec:      4.00MB
"""


def test_wrk_summary_is_parsed() -> None:
    result = common.parse_wrk(WRK_OUTPUT)
    assert result.requests == 301234
    assert result.seconds == pytest.approx(10.0)
    assert result.requests_per_s == pytest.approx(30123.4)
    assert result.p50_ms == pytest.approx(2.01)
    assert result.p99_ms == pytest.approx(0.85)
    assert result.errors == 7


def test_wrk_output_without_a_summary_is_refused() -> None:
    with pytest.raises(ValueError, match="unexpected wrk output"):
        common.parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_proc_status_and_stat_are_parsed() -> None:
    assert common.parse_vmrss("Name:\tpython\nVmRSS:\t  2048 kB\nThreads:\t3\n") == 2048 * 1024
    assert common.parse_vmrss("Name:\tkthreadd\n") == 0
    stat = "42 (a (strange) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 70 0 0 20 0 1 0"
    assert common.parse_cpu_ticks(stat) == 320


def test_curl_summary_is_parsed_and_errors_refused() -> None:
    transfer = downloads.parse_curl("200 1073741824 0.500000")
    assert transfer.gb_per_s == pytest.approx(1073741824 / 0.5 / 1e9)
    with pytest.raises(RuntimeError, match="410"):
        downloads.parse_curl("410 42 0.001")


def test_seeded_keys_are_valid_license_keys() -> None:
    import random

    keys = licenses.make_keys(50, random.Random(1))  # noqa: S311
    assert len(set(keys)) == 50
    assert all(check_key(key, licenses.LICENSE_SECRET) for key in keys)


def test_webhook_events_are_signed_as_stripe_signs_them() -> None:
    body = b'{"id":"evt_1"}'
    header = webhooks.sign(body, "whsec_x", 1700000000)
    expected = hmac.new(b"whsec_x", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1700000000,v1={expected}"
    event = webhooks.make_event(7, "run", {"customer_details": {"name": "Ada"}})
    session = event["data"]["object"]
    assert event["type"] == "checkout.session.completed"
    assert session["payment_status"] == "paid"
    assert session["metadata"] == {"product": webhooks.PRODUCT}
    assert session["customer_details"] == {"name": "Ada", "email": webhooks.buyer(7)}


def test_the_webhook_load_generator_reads_each_kind_of_answer() -> None:
    answers = (
        b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello"
        b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n"
        b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    )

    async def read_all() -> list[tuple[int, bool]]:
        reader = asyncio.StreamReader()
        reader.feed_data(answers)
        reader.feed_eof()
        seen = [await webhooks.read_response(reader) for _ in range(3)]
        assert await reader.read() == b""  # every byte of the three answers consumed
        return seen

    assert asyncio.run(read_all()) == [(200, False), (400, False), (503, True)]


@pytest.fixture
def settings_overrides() -> dict[str, object]:
    return {"stripe_webhook_secret": SecretStr(webhooks.WEBHOOK_SECRET)}


def test_the_webhook_load_generator_gets_answers_from_a_real_server(live_server: str) -> None:
    bodies = [json.dumps(webhooks.make_event(i, "test", {})).encode() for i in range(6)] + [b"{}"]
    port = int(live_server.rsplit(":", 1)[1])

    _wall, statuses, _cpu = asyncio.run(webhooks.send_all("127.0.0.1", port, bodies, 2))

    # Signed as Stripe signs: six events accepted (no product by that slug: kept as failed);
    # the last body is no event.
    assert sorted(statuses) == [200] * 6 + [400]


@pytest.mark.parametrize(
    "module",
    [
        "bench.client",
        "bench.downloads",
        "bench.licenses",
        "bench.scale",
        "bench.serve",
        "bench.webhooks",
    ],
)
def test_every_benchmark_module_imports(module: str) -> None:
    assert importlib.import_module(module).main is not None


def test_bench_app_adds_only_empty_endpoints(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path}/bench.db"
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()
    monkeypatch.setenv("SHIPKEY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SHIPKEY_DATABASE_URL", url)
    app = apps.create_bench_app()
    with TestClient(app) as client:
        assert client.get(apps.EMPTY_PATH).json() == {}
        assert client.post(apps.EMPTY_PATH, json={"licenseKey": "K"}).json() == {}
        assert client.post(apps.LANE_EMPTY_PATH, json={"licenseKey": "K"}).json() == {}
        paths = client.get("/openapi.json").json()["paths"]
        assert apps.EMPTY_PATH not in paths
        assert apps.LANE_EMPTY_PATH not in paths
    assert app.fast_routes == [
        ("GET", "/api/releases/{product}/latest"),
        ("POST", "/api/licenses/validate"),
        ("POST", "/api/webhooks/stripe"),
        ("POST", apps.LANE_EMPTY_PATH),
    ]
    assert [getattr(route, "path", None) for route in app.routes[:2]] == [
        apps.EMPTY_PATH,
        apps.EMPTY_PATH,
    ]


def test_results_record_how_fast_the_machine_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert common.reference_ms(rounds=1) > 0
    monkeypatch.setattr(common, "RESULTS_DIR", tmp_path)
    monkeypatch.setattr(common, "reference_ms", lambda: 7.5)
    path = common.write_results("client", {"perSecond": {}, "goals": {}})
    document = json.loads(path.read_text())
    assert document["machine"]["referenceMs"] == 7.5
    system = document["machine"]["system"]
    assert report._speed(document) == f"; on {system}; reference loop 7.5 ms"
    assert report._speed({"machine": {"cpus": 2}}) == ""  # results from before it was recorded


def test_the_scale_bench_sizes_follows_links_and_reports() -> None:
    assert scale.counts(1.0)["purchases"] == 1_000_000
    assert scale.counts(0.1) == {name: full // 10 for name, full in scale.FULL.items()}
    page = '<nav><a href="/admin/purchases?q=a&amp;cursor=abc" rel="next">Older</a></nav>'
    assert scale.next_link(page) == "/admin/purchases?q=a&cursor=abc"
    assert scale.next_link('<a rel="next" href="/admin/licenses?cursor=x">') == (
        "/admin/licenses?cursor=x"
    )
    assert scale.next_link("<p>no more</p>") is None
    numbers = scale.summary([float(n) for n in range(1, 101)])
    assert numbers == {"p50": 50.5, "p95": 95.0, "max": 100.0}
    table = report.scale(
        {
            "scale": 0.1,
            "rounds": 3,
            "rows_filled": {"purchases": 100_000},
            "rows": {
                "dashboard": {"kind": "admin", "p50": 20.0, "p95": 250.0},
                "buyer: purchases": {"kind": "buyer", "p50": 5.0, "p95": 9.0},
                "license validation": {"kind": "base", "p50": 2.0, "p95": 3.0, "ratio": 1.5},
            },
        }
    )
    assert "| dashboard | 20.0 | 250.0 | < 200 ms: **missed** |" in table
    assert "| buyer: purchases | 5.0 | 9.0 | < 50 ms: met |" in table
    assert "1.5× /healthz (p50)" in table
    with_cpu = report.scale(
        {
            "scale": 1.0,
            "rounds": 3,
            "rows_filled": {"purchases": 1_000_000},
            "loadAverage": 9.5,
            "loadAtStart": 8.1,
            "rows": {"dashboard": {"kind": "admin", "p50": 20.0, "p95": 150.0, "cpu": 12.34}},
        }
    )
    assert "| page | p50 ms | p95 ms | app CPU ms | goal (p95) |" in with_cpu
    assert "| dashboard | 20.0 | 150.0 | 12.3 | < 200 ms: met |" in with_cpu
    assert "load average 9.5 (at the start: 8.1)." in with_cpu
