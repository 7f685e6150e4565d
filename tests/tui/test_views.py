"""Sorting, filtering and the one-line graphs of the dashboard (pure)."""

from __future__ import annotations

import pytest

from bolt.tui._views import (
    CLIENT_SORT_KEYS,
    COMMAND_SORT_KEYS,
    ClientRow,
    CommandRow,
    ShardRow,
    filter_rows,
    shard_heat,
    sort_rows,
    spark_text,
)


def command(name: str, rate: float | None, p99: float | None = 1.0, errors: int = 0) -> CommandRow:
    return CommandRow(
        name, calls=10, rate=rate, p50_ms=0.5, p99_ms=p99, errors=errors, error_rate=0
    )


def client(
    client_id: int, address: str, name: str | None, user: str | None, **kw: object
) -> ClientRow:
    fields: dict = dict(
        role="readwrite", age_seconds=1.0, requests=client_id, rate=None, command=None
    )
    fields.update(kw)
    return ClientRow(client_id, address, name, user, **fields)


def test_sort_commands_numbers_descending_text_ascending_unknown_last() -> None:
    rows = [command("GET", 5.0, p99=2.0), command("PUT", None, p99=9.0), command("INCR", 7.0)]
    assert [row.name for row in sort_rows(rows, "rate")] == ["INCR", "GET", "PUT"]
    assert [row.name for row in sort_rows(rows, "rate", reverse=True)] == ["PUT", "GET", "INCR"]
    assert [row.name for row in sort_rows(rows, "p99")] == ["PUT", "GET", "INCR"]
    assert [row.name for row in sort_rows(rows, "name")] == ["GET", "INCR", "PUT"]
    for key in COMMAND_SORT_KEYS:
        assert len(sort_rows(rows, key)) == 3


def test_sort_clients_and_refuse_unknown_columns() -> None:
    rows = [client(2, "b:1", "x", "bob", requests=5), client(1, "a:1", "y", None, requests=9)]
    assert [row.id for row in sort_rows(rows, "requests")] == [1, 2]
    assert [row.id for row in sort_rows(rows, "address")] == [1, 2]
    assert [row.id for row in sort_rows(rows, "user")] == [1, 2]  # None sorts as ""
    for key in CLIENT_SORT_KEYS:
        assert len(sort_rows(rows, key)) == 2
    with pytest.raises(ValueError, match="cannot sort"):
        sort_rows(rows, "p99")
    assert sort_rows([], "anything") == []


def test_filter_matches_every_word_case_insensitively() -> None:
    rows = [
        client(1, "10.0.0.1:5000", "agent-alpha", "alice", command="PUT"),
        client(2, "10.0.0.2:5000", "agent-beta", "bob"),
        client(3, "10.0.0.3:5000", None, "admin", role="admin"),
    ]
    assert [row.id for row in filter_rows(rows, "ALPHA")] == [1]
    assert [row.id for row in filter_rows(rows, "agent 10.0.0.2")] == [2]
    assert [row.id for row in filter_rows(rows, "put")] == [1]
    assert [row.id for row in filter_rows(rows, "admin")] == [3]
    assert len(filter_rows(rows, "  ")) == 3
    assert filter_rows(rows, "nobody") == []
    assert [row.name for row in filter_rows([command("GET", 1.0), command("PUT", 1.0)], "ge")] == [
        "GET"
    ]


def test_shard_heat_marks_the_hot_shard() -> None:
    shards = [ShardRow(index, keys=1, memory=100, share=None) for index in range(8)]
    shards[5] = ShardRow(5, keys=9, memory=800, share=None)
    heat = shard_heat(shards, width=80)
    assert len(heat) == 8 and heat[5] == "█" and set(heat[:5]) == {"▂"}
    assert len(shard_heat(shards, width=3)) == 3  # groups of shards show their maximum
    assert shard_heat(shards, width=3)[1] == "█"
    assert shard_heat([], 10) == ""
    assert shard_heat([ShardRow(0, 0, 0, None)], 10) == "▁"


def test_spark_text_keeps_a_fixed_time_scale_newest_at_the_right() -> None:
    # bar heights are proportional to the value (0 at the bottom), unknown is blank
    assert spark_text([1.0, 2.0, 4.0, 8.0], cells=6, points_per_cell=1) == "  ▂▃▅█"
    assert spark_text([1.0, None, 8.0], cells=3, points_per_cell=1) == "▂ █"
    # four points per cell: the newest cell holds the newest four points
    assert spark_text([8.0] + [1.0] * 4, cells=3, points_per_cell=4) == " █▂"
    assert spark_text([0.0, 0.0], cells=2, points_per_cell=1) == "▁▁"
    assert spark_text([], cells=4, points_per_cell=1) == "    "
    assert spark_text([1.0], cells=0, points_per_cell=1) == ""
    assert len(spark_text([1.0] * 1000, cells=10, points_per_cell=3)) == 10
