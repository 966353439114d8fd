from __future__ import annotations

import pytest

from eadrcc.db import Queries, queries, sql_dir


def test_named_blocks_are_split() -> None:
    q = Queries("-- name: one\nSELECT 1;\n\n-- name: two\n-- a comment\nSELECT 2;\n", "x.sql")
    assert q.one == "SELECT 1;"
    assert q.two == "-- a comment\nSELECT 2;"
    assert q.names() == ["one", "two"]


def test_a_name_used_twice_is_an_error() -> None:
    with pytest.raises(ValueError, match="twice"):
        Queries("-- name: a\nSELECT 1;\n-- name: a\nSELECT 2;", "x.sql")


def test_unknown_query_names_the_query() -> None:
    with pytest.raises(AttributeError, match="nope"):
        _ = Queries("-- name: a\nSELECT 1;", "x.sql").nope


@pytest.mark.parametrize("path", sorted((sql_dir() / "queries").glob("*.sql")))
def test_every_shipped_query_file_loads(path) -> None:  # type: ignore[no-untyped-def]
    assert queries(path.stem).names()
