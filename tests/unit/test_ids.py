"""Opaque ids (eadrcc/ids.py): their shape, their order in time, and randomness a
forked process does not share with its parent."""

from __future__ import annotations

import multiprocessing
import re
import time

from eadrcc import ids

SHAPE = re.compile(r"off_[0-9a-hjkmnp-tv-z]{22}")


def test_an_id_is_its_prefix_then_22_base32_characters() -> None:
    made = {ids.new_id("off") for _ in range(5000)}
    assert len(made) == 5000
    assert all(SHAPE.fullmatch(i) for i in made)


def test_ids_made_later_sort_after() -> None:
    first = ids.new_id("off")
    start = time.monotonic()
    while time.monotonic() - start < 0.002:  # into a later millisecond
        pass
    assert ids.new_id("off") > first


def _child_id(out: multiprocessing.SimpleQueue) -> None:  # type: ignore[type-arg]
    out.put(ids.new_id("off"))


def test_a_forked_process_draws_its_own_randomness() -> None:
    """The parent holds drawn bits it has not used yet; a forked child must not hand
    out the same ones (its ids would repeat the parent's)."""
    ids.new_id("off")  # the parent now holds bits drawn ahead
    fork = multiprocessing.get_context("fork")
    out = fork.SimpleQueue()
    child = fork.Process(target=_child_id, args=(out,))
    child.start()
    child.join(timeout=30)
    theirs, ours = out.get(), ids.new_id("off")
    assert theirs[-12:] != ours[-12:]  # the random part (the time part may be equal)
