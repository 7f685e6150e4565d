"""Rendering of replies: redis-cli style text and JSON (pure, no server)."""

from __future__ import annotations

import io
import json

import pytest

from bolt.cli._output import (
    Shape,
    error_json,
    error_text,
    flatten,
    plain_table,
    quote,
    render,
    render_json,
    render_users,
    to_json,
    write_text,
)


@pytest.mark.parametrize(
    ("result", "shape", "expected"),
    [
        ("hello", Shape.VALUE, "hello"),
        ("two words", Shape.VALUE, "two words"),
        ("", Shape.VALUE, ""),
        (None, Shape.VALUE, "(nil)"),
        (7, Shape.INTEGER, "(integer) 7"),
        (-1, Shape.INTEGER, "(integer) -1"),
        (None, Shape.INTEGER, "(nil)"),
        (True, Shape.BOOLEAN, "(integer) 1"),
        (False, Shape.BOOLEAN, "(integer) 0"),
        (None, Shape.OK, "OK"),
        (True, Shape.OK, "OK"),
        (False, Shape.OK, "(integer) 0"),
        ("old", Shape.DELETED, "(integer) 1"),
        (True, Shape.DELETED, "(integer) 1"),
        (None, Shape.DELETED, "(integer) 0"),
        ([], Shape.LIST, "(empty list)"),
        (["a"], Shape.LIST, '1) "a"'),
        (["a", None, "c"], Shape.LIST, '1) "a"\n2) (nil)\n3) "c"'),
        ("# HELP x\nx 1\n", Shape.TEXT, "# HELP x\nx 1"),
        ({"user": "admin", "role": "admin"}, Shape.MAPPING, "user:admin\nrole:admin"),
    ],
)
def test_render_follows_redis_cli_conventions(result: object, shape: Shape, expected: str) -> None:
    assert render(result, shape) == expected


def test_numbered_lines_are_right_aligned_past_nine() -> None:
    lines = render([str(n) for n in range(12)], Shape.LIST).splitlines()
    assert lines[0] == ' 1) "0"'
    assert lines[9] == '10) "9"'
    assert len(lines) == 12


def test_quote_escapes_so_one_element_is_one_line() -> None:
    assert quote('a"b') == '"a\\"b"'
    assert quote("line1\nline2") == '"line1\\nline2"'
    assert quote("tab\there\r") == '"tab\\there\\r"'
    assert quote("back\\slash") == '"back\\\\slash"'
    assert quote("\x00\x7f") == '"\\x00\\x7f"'
    assert quote("héllo") == '"héllo"'
    assert quote(b"\xff\xfeok") == '"\\xff\\xfeok"'
    assert render(["a\nb", "c"], Shape.LIST).splitlines() == ['1) "a\\nb"', '2) "c"']


def test_bytes_values_print_exactly() -> None:
    stream = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    write_text(render(b"\xff\x00raw", Shape.VALUE), stream)
    stream.flush()
    assert stream.buffer.getvalue() == b"\xff\x00raw\n"


def test_flatten_nests_with_dots_and_indexes_lists_of_mappings() -> None:
    stats = {
        "node_id": "n1",
        "memory": {"used": 10, "limit": 20},
        "peers": [{"id": "a", "state": "Healthy"}],
        "tags": ["x", "y"],
        "buckets": [[0.1, 2], [1.0, 3]],
        "ready": True,
        "failed": None,
    }
    assert flatten(stats) == [
        ("node_id", "n1"),
        ("memory.used", "10"),
        ("memory.limit", "20"),
        ("peers.0.id", "a"),
        ("peers.0.state", "Healthy"),
        ("tags", "x,y"),
        ("buckets", "[[0.1,2],[1.0,3]]"),
        ("ready", "true"),
        ("failed", ""),
    ]


def test_users_are_aligned() -> None:
    text = render_users([{"name": "admin", "role": "admin"}, {"name": "bo", "role": "readonly"}])
    assert text == "1) admin  admin\n2) bo     readonly"
    assert render_users([]) == "(empty list)"


def test_json_keeps_the_reply_and_makes_bytes_safe() -> None:
    assert render_json(["a", None, 3]) == '["a",null,3]'
    assert json.loads(render_json(None)) is None
    assert to_json(b"text") == "text"
    assert to_json(b"\xff") == {"base64": "/w=="}
    assert to_json({"k": [b"\xff", "v"]}) == {"k": [{"base64": "/w=="}, "v"]}


def test_errors_have_name_and_message() -> None:
    assert error_text("WRONGTYPE", "wrong kind") == "(error) WRONGTYPE wrong kind"
    assert error_text("ERR", "ERR") == "(error) ERR"
    assert json.loads(error_json(102, "WRONGTYPE", "wrong")) == {
        "error": {"code": 102, "name": "WRONGTYPE", "message": "wrong"}
    }


def test_plain_table_aligns_columns() -> None:
    text = plain_table("title", ("Op", "Rate"), [("SET", "1 ops/s"), ("MGET", "100 ops/s")])
    assert text.splitlines() == [
        "title",
        "Op         Rate",
        "----  ---------",
        "SET     1 ops/s",
        "MGET  100 ops/s",
    ]


def test_unknown_shape_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown shape"):
        render("x", "bogus")  # type: ignore[arg-type]
