from __future__ import annotations

import re

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


@pytest.mark.parametrize("path", sorted((sql_dir() / "queries").glob("*.sql")))
def test_shipped_queries_take_named_parameters(path) -> None:  # type: ignore[no-untyped-def]
    q = queries(path.stem)
    # One with :name parameters cannot also hold $n ones (refused at load): look at the rest.
    unnamed = [n for n in q.names() if not q.params(n)]
    numbered = [n for n in unnamed if re.search(r"\$\d", re.sub(r"--[^\n]*", "", q.sql(n)))]
    assert not numbered, f"{path.name}: $n parameters in {numbered}"


def test_named_parameters_become_numbered_in_order_of_first_use() -> None:
    q = Queries("-- name: a\nUPDATE t SET x = :x, y = :y::int WHERE id = :id AND x <> :x;", "x.sql")
    assert q.sql("a") == "UPDATE t SET x = $1, y = $2::int WHERE id = $3 AND x <> $1;"
    assert type(q.sql("a")) is str  # asyncpg takes nothing else
    assert q.params("a") == ("x", "y", "id")
    assert q.bind("a", id="i", y=2, x="X") == [q.sql("a"), "X", 2, "i"]


def test_a_query_with_parameters_cannot_be_read_for_positional_values() -> None:
    q = Queries("-- name: a\nSELECT :x, :y;\n-- name: b\nSELECT 1;", "x.sql")
    with pytest.raises(AttributeError, match="takes parameters"):
        _ = q.a  # conn.fetch(q.a, y, x) would bind them the wrong way round
    assert q.b == "SELECT 1;"


def test_names_inside_strings_comments_and_casts_are_left_alone() -> None:
    text = (
        "-- name: a\n-- note: a :comment\n"
        "SELECT ':no', \"odd:col\", $$x$$, '{}'::jsonb, arr[1:2], to_char(now(), 'HH24:MI'), :yes;"
    )
    q = Queries(text, "x.sql")
    assert q.params("a") == ("yes",)
    assert q.sql("a").endswith("to_char(now(), 'HH24:MI'), $1;")
    assert (
        "':no'" in q.sql("a") and '"odd:col"' in q.sql("a") and "-- note: a :comment" in q.sql("a")
    )


def test_a_missing_or_unknown_parameter_is_refused() -> None:
    q = Queries("-- name: a\nSELECT :x, :y;", "x.sql")
    with pytest.raises(TypeError, match=r"missing \['y'\].*unexpected \['z'\]"):
        q.bind("a", x=1, z=2)


def test_mixing_named_and_numbered_parameters_is_an_error() -> None:
    with pytest.raises(ValueError, match="either"):
        Queries("-- name: a\nSELECT :x, $2;", "x.sql")


@pytest.mark.parametrize(
    "text",
    [
        "SELECT $$ :no $$, :yes",  # a dollar-quoted body
        "SELECT $fn$ it's :no $fn$, :yes",  # a tagged one, with a quote inside
        "SELECT /* :no */ :yes",  # a block comment
        r"SELECT E'it\'s :no', :yes",  # a backslash-escaped quote does not end it
        "SELECT secrets[1:no] FROM t WHERE id = :yes",  # an array slice's bound
        "SELECT (a)[i:no], :yes",
    ],
)
def test_a_colon_inside_quoting_or_a_slice_is_not_a_parameter(text: str) -> None:
    q = Queries(f"-- name: a\n{text}", "x.sql")
    assert q.params("a") == ("yes",)
    assert q.sql("a") == text.replace(":yes", "$1")


def test_a_parameter_as_a_slice_bound_is_spaced_from_the_colon() -> None:
    q = Queries("-- name: a\nSELECT secrets[1: :upto], :x::text[], :upto::int", "x.sql")
    assert q.params("a") == ("upto", "x")
    assert q.sql("a") == "SELECT secrets[1: $1], $2::text[], $1::int"


def test_a_parameter_may_be_called_name() -> None:
    q = Queries("-- name: a\nINSERT INTO t (name, query) VALUES (:name, :query_name);", "x.sql")
    assert q.bind("a", name="N", query_name="Q") == [q.sql("a"), "N", "Q"]
