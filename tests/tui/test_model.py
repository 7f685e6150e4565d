"""The pure model: STATS replies in, rates, series and rows out (no UI)."""

from __future__ import annotations

import copy

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bolt.errors import ProtocolError
from bolt.server import BUCKET_BOUNDS_SECONDS, percentile_seconds
from bolt.tui._model import (
    HIT_COUNTER,
    MISS_COUNTER,
    StatsModel,
    hit_ratio,
)
from bolt.wire import bucket_counts, estimate_quantile
from tests.tui.samples import buckets, stats


def test_the_first_reply_shows_totals_and_no_rates() -> None:
    frame = StatsModel().update(stats(), now=0.0)
    assert frame.interval_seconds is None
    assert frame.header.ops_per_second is None
    assert frame.header.reads_per_second is None and frame.header.writes_per_second is None
    assert frame.header.keys == 40 and frame.header.ops_total == 100
    assert all(row.rate is None for row in frame.commands)
    assert frame.interval_p99_ms is None
    assert frame.ops_history == (None,)
    assert frame.storage.snapshot_offset is None  # -1 means "no snapshot yet"


def test_rates_are_counter_deltas_over_the_servers_uptime_delta() -> None:
    model = StatsModel()
    model.update(stats(uptime=10.0), now=100.0)
    frame = model.update(
        stats(uptime=12.0, total=300, reads=160, writes=140, get_calls=160), now=500.0
    )
    assert frame.interval_seconds == pytest.approx(2.0)  # the server's clock, not ``now``
    assert frame.header.ops_per_second == pytest.approx(100.0)
    assert frame.header.reads_per_second == pytest.approx(50.0)
    assert frame.header.writes_per_second == pytest.approx(50.0)
    get = next(row for row in frame.commands if row.name == "GET")
    assert get.rate == pytest.approx(50.0) and get.error_rate == 0.0
    put = next(row for row in frame.commands if row.name == "PUT")
    assert put.p50_ms is None and put.p99_ms is None  # no call in the recent window
    assert frame.ops_history == (None, pytest.approx(100.0))


def test_a_restart_resets_the_rates() -> None:
    model = StatsModel()
    model.update(stats(uptime=100.0, total=1000), now=0.0)
    frame = model.update(stats(uptime=1.0, total=10), now=1.0)
    assert frame.restarted and frame.header.ops_per_second is None
    frame = model.update(stats(uptime=2.0, total=30), now=2.0)
    assert not frame.restarted and frame.header.ops_per_second == pytest.approx(20.0)
    frame = model.update(stats(uptime=3.0, total=40, node_id="other"), now=3.0)
    assert frame.restarted and frame.header.ops_per_second is None


def test_interval_p99_comes_from_the_bucket_deltas_of_every_command() -> None:
    model = StatsModel()
    model.update(stats(get_buckets=(60, 0, 0, 0, 0), writes=40), now=0.0)
    # 100 new GETs, all in the (0.5, 1.0] bucket; no new PUT.
    frame = model.update(
        stats(uptime=11.0, get_calls=160, get_buckets=(60, 0, 0, 100, 0), writes=40), now=1.0
    )
    assert frame.interval_p99_ms == pytest.approx(0.5 + 0.5 * 0.99)
    frame = model.update(
        stats(uptime=12.0, get_calls=160, get_buckets=(60, 0, 0, 100, 0), writes=40), now=2.0
    )
    assert frame.interval_p99_ms is None  # nothing answered: no invented latency


def test_percentile_and_bucket_parsing() -> None:
    parsed = bucket_counts(buckets(1, 2, 3, 4, 0))
    assert parsed == ((0.1, 0.25, 0.5, 1.0, float("inf")), (1, 2, 3, 4, 0))
    assert bucket_counts([[1, 5], [2, 3]]) is None  # cumulative counts must not fall
    assert bucket_counts("nonsense") is None
    assert estimate_quantile((1.0, 2.0), (0, 0), 0.99) is None
    assert estimate_quantile((1.0, float("inf")), (0, 5), 0.5) == 1.0  # +Inf: last finite bound
    assert estimate_quantile((1.0, 2.0), (10, 0), 0.5) == pytest.approx(0.5)


@given(
    st.lists(st.integers(0, 1000), min_size=17, max_size=17),
    st.floats(0.0, 1.0, allow_nan=False),
)
def test_the_server_and_the_dashboard_share_one_estimator(counts: list[int], q: float) -> None:
    # The server's p50/p99 (seconds) and the dashboard's interval p99 (ms, from
    # the STATS buckets) are one estimator: same counts, same answer.
    bounds_ms = (*(bound * 1000 for bound in BUCKET_BOUNDS_SECONDS), float("inf"))
    by_dashboard = estimate_quantile(bounds_ms, counts, q)
    by_server = percentile_seconds(counts, q)
    if sum(counts) == 0:
        assert by_dashboard is None and by_server == 0.0
        return
    assert by_dashboard == pytest.approx(by_server * 1000)
    low = 0.0
    for bound, count in zip(bounds_ms, counts, strict=True):  # the bucket holding the rank
        if count and sum(counts[: bounds_ms.index(bound) + 1]) >= q * sum(counts):
            assert low <= by_dashboard <= min(bound, bounds_ms[-2])
            break
        low = bound if bound != float("inf") else low


def test_hit_ratio_needs_the_hit_and_miss_counters() -> None:
    assert StatsModel().update(stats(), now=0.0).header.hit_ratio is None
    first = stats(**{HIT_COUNTER: 30, MISS_COUNTER: 10})
    second = stats(uptime=11.0, **{HIT_COUNTER: 39, MISS_COUNTER: 11})
    assert hit_ratio(first, None) == pytest.approx(0.75)
    assert hit_ratio(second, first) == pytest.approx(0.9)
    assert hit_ratio(first, first) is None  # no read in the interval
    model = StatsModel()
    model.update(first, now=0.0)
    assert model.update(second, now=1.0).header.hit_ratio == pytest.approx(0.9)


def test_client_rates_follow_each_client_id() -> None:
    model = StatsModel()
    model.update(stats(), now=0.0)
    clients = [
        {"id": 1, "address": "127.0.0.1:1", "requests": 70},
        {"id": 2, "address": "127.0.0.1:2", "requests": 5},
    ]
    frame = model.update(stats(uptime=12.0, clients=clients), now=1.0)
    rates = {row.id: row.rate for row in frame.clients}
    assert rates == {1: pytest.approx(10.0), 2: None}  # a new client has no rate yet


def test_storage_view_spots_the_hot_shard() -> None:
    model = StatsModel()
    model.update(stats(), now=0.0)
    memory = dict(stats()["memory"], evicted=20, expired=30)
    frame = model.update(stats(uptime=12.0, memory=memory), now=1.0)
    storage = frame.storage
    assert storage.hot_shard is not None and storage.hot_shard.index == 1
    assert storage.imbalance == pytest.approx(1.5)
    assert storage.shards[1].share == pytest.approx(0.75)
    assert storage.evictions_per_second == pytest.approx(10.0)
    assert storage.expirations_per_second == pytest.approx(10.0)
    assert storage.appended_per_second == 0.0
    assert storage.durable_offset == 30


def test_a_malformed_reply_is_refused_and_changes_nothing() -> None:
    model = StatsModel()
    model.update(stats(), now=0.0)
    with pytest.raises(ProtocolError):
        model.update(["not", "a", "map"], now=1.0)
    assert model.samples == 1
    frame = model.update(stats(uptime=11.0, total=200), now=2.0)
    assert frame.header.ops_per_second == pytest.approx(100.0)


def test_missing_and_mistyped_fields_become_unknown() -> None:
    reply = stats()
    reply["keys"] = "many"
    reply["memory"] = None
    del reply["wal"]
    reply["commands"]["GET"]["buckets"] = [["x", 1]]
    frame = StatsModel().update(reply, now=0.0)
    assert frame.header.keys is None
    assert frame.header.memory_used is None and frame.header.eviction_policy is None
    assert frame.header.fsync_mode is None and frame.storage.segments is None


def test_the_input_reply_is_not_modified() -> None:
    reply = stats()
    before = copy.deepcopy(reply)
    StatsModel().update(reply, now=0.0)
    assert reply == before


def test_history_is_bounded() -> None:
    model = StatsModel(history_points=3)
    for second in range(10):
        frame = model.update(stats(uptime=10.0 + second, total=100 + second), now=second)
    assert len(frame.ops_history) == 3
    with pytest.raises(ValueError):
        StatsModel(history_points=0)
