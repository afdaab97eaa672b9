"""How a client (or a chunkserver) goes round the master replicas (`--master A,B,C`) while
they change roles: a replica that did not answer at all is not asked again each round while
the others refuse (they are electing a new active); one that refused its connection at once,
or the only one left, is."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest

import common.masters
from client import replicas
from client.replicas import Replicas
from common import errors
from common.masters import MasterList

Behaviour = Callable[[int], object]  # the n-th call on a replica (from 0): raises or answers


class Rpc:
    def trailing_metadata(self) -> tuple[()]:
        return ()


class Method:
    def __init__(self, address: str, behaviour: Behaviour, calls: list[str]) -> None:
        self.address, self.behaviour, self.calls = address, behaviour, calls

    def with_call(self, request: object, timeout: float, metadata: object) -> tuple[object, Rpc]:
        n = self.calls.count(self.address)
        self.calls.append(self.address)
        return self.behaviour(n), Rpc()


class Channels:
    def __init__(self, behaviours: dict[str, Behaviour]) -> None:
        self.behaviours = behaviours
        self.calls: list[str] = []

    def master(self, address: str) -> Any:
        return SimpleNamespace(Mkdir=Method(address, self.behaviours[address], self.calls))


def silent(n: int) -> object:
    raise errors.Unavailable("cannot reach master a:1: stream removed (ping timeout)")


def refuses_until(answering: int) -> Behaviour:
    def behave(n: int) -> object:
        if n < answering:
            raise errors.NotActive("this is a standby master replica")
        return "done"

    return behave


def standby(n: int) -> object:
    raise errors.NotActive("this is a standby master replica")


@pytest.fixture(autouse=True)
def quick_rounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replicas, "RETRY_EVERY", 0.001)


def call(channels: Channels, masters: MasterList) -> object:
    return Replicas(masters, channels).call("Mkdir", object(), read_only=False, timeout=10)  # type: ignore[arg-type]


def test_a_replica_that_did_not_answer_is_left_out_while_the_others_elect(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The stalled active: each try of it costs seconds (a keepalive, a connection attempt).
    Asked once, then not again while b and c refuse, until c is elected and takes the call;
    the next call goes to c first."""
    monkeypatch.setattr(common.masters, "SILENT_AFTER", 0.0)  # every failure is "long"
    channels = Channels({"a:1": silent, "b:1": standby, "c:1": refuses_until(5)})
    masters = MasterList("a:1,b:1,c:1")
    assert call(channels, masters) == "done"
    assert channels.calls.count("a:1") == 1
    assert channels.calls.count("c:1") == 6
    before = len(channels.calls)
    assert call(channels, masters) == "done"
    assert channels.calls[before:] == ["c:1"]


def test_a_replica_that_refused_its_connection_at_once_is_asked_every_round() -> None:
    """A new active restarting its server refuses connections for a moment: quick, so it is
    not taken for silent and is asked again in the next round."""

    def restarts(n: int) -> object:
        if n < 3:
            raise errors.Unavailable("cannot reach master c:1: connection refused")
        return "done"

    channels = Channels({"a:1": standby, "b:1": standby, "c:1": restarts})
    assert call(channels, MasterList("a:1,b:1,c:1")) == "done"
    assert channels.calls.count("c:1") == 4


def test_a_silent_replica_is_asked_again_when_no_other_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With nobody else alive (or a single master), leaving it out would leave no one: it is
    asked every round, and answers once it is back."""
    monkeypatch.setattr(common.masters, "SILENT_AFTER", 0.0)

    def back_later(n: int) -> object:
        if n < 3:
            raise errors.Unavailable("cannot reach master a:1: connection attempt timed out")
        return "done"

    down = {"b:1": silent, "c:1": silent}
    channels = Channels({"a:1": back_later, **down})
    assert call(channels, MasterList("a:1,b:1,c:1")) == "done"
    assert channels.calls.count("a:1") == 4
    alone = Channels({"a:1": back_later})
    assert call(alone, MasterList("a:1")) == "done"
    assert alone.calls == ["a:1"] * 4


def test_a_chunkservers_next_master_after_a_refusal_is_not_a_silent_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A chunkserver asks one replica a heartbeat and takes the next when it fails: past the
    stalled active while the standbys refuse; back to it once its silence is old, or when
    every other one is silent too."""
    listed = MasterList("a:1,b:1,c:1")
    listed.passed("a:1", took=3.0)  # its heartbeat failed only after 3 s
    assert listed.current == "b:1"
    listed.passed("b:1")  # a standby refusing at once
    assert listed.current == "c:1"
    listed.passed("c:1")
    assert listed.current == "b:1"
    listed.passed("b:1", took=3.0)
    listed.passed("c:1", took=3.0)
    assert listed.current == "a:1"
    monkeypatch.setattr(common.masters, "SILENT_FOR", 0.0)
    fresh = MasterList("a:1,b:1,c:1")
    fresh.passed("a:1", took=3.0)
    fresh.passed("b:1")
    fresh.passed("c:1")
    assert fresh.current == "a:1"
