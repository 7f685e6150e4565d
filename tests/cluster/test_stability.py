"""Causal stability (``bolt.cluster._stability``): the stable vector and the stable HLC.

The pure tracker is driven with the reports three simulated nodes would
send, and the claims are checked against the events each node really holds:
whenever the tracker says "every node holds every event at or below S", no
event at or below S is missing anywhere.
"""

from __future__ import annotations

import random
import struct

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.cluster._stability import Stability, StabilityReport
from bolt.errors import ProtocolError
from bolt.wire import Heartbeat, PeerCodec, encode_peer


def _report(
    vector: dict[str, int], seq_hlc: int, stable: int = 0, own: str = "b"
) -> StabilityReport:
    return StabilityReport(dict(vector), vector.get(own, 0), seq_hlc, stable)


def test_a_peer_never_heard_from_holds_everything_at_zero() -> None:
    stability = Stability("a", ["b", "c"])
    stability.learn("b", _report({"a": 5, "b": 7}, 700, stable=650))
    assert stability.stable_vector({"a": 9, "b": 7}) == {"a": 0, "b": 0}
    stability.advance({"a": 9, "b": 7})
    assert stability.local_stable_hlc() == 0  # nothing known of c
    assert stability.stable_hlc() == 0
    assert stability.heard_from() == ["b"]


def test_stable_vector_is_the_pointwise_minimum() -> None:
    stability = Stability("a", ["b", "c"])
    stability.learn("b", _report({"a": 5, "b": 7}, 700))
    stability.learn("c", _report({"a": 3, "b": 9, "c": 2}, 300, own="c"))
    assert stability.stable_vector({"a": 9, "b": 8, "c": 2}) == {"a": 3, "b": 7, "c": 0}


def test_a_report_counts_only_once_the_local_vector_covers_it() -> None:
    stability = Stability("a", ["b"])
    stability.learn("b", _report({"b": 7}, 700, stable=900))
    stability.advance({"b": 6})  # b's seq 7 is not here yet
    assert stability.local_stable_hlc() == 0
    stability.advance({"b": 7})
    assert stability.local_stable_hlc() == 700
    assert stability.stable_hlc() == 700  # min(local 700, b's own 900)
    stability.learn("b", _report({"b": 7}, 800, stable=750))  # b's clock moved, no new writes
    stability.advance({"b": 7})
    assert stability.stable_hlc() == 800  # min(local 800, b's best 900)
    stability.learn("b", _report({"b": 7}, 600, stable=100))  # late, older report: never lowers
    stability.advance({"b": 7})
    assert stability.stable_hlc() == 800


def test_a_gap_in_a_nodes_own_seqs_reports_its_highest_seq() -> None:
    # b holds its seqs 1-3 and 5 (4 is missing): its clock covers seq 5, so the
    # report must name seq 5, or a holding seqs 1-4 would wrongly count seq 5's HLC.
    b = Stability("b", ["a"])
    report = b.report({"b": 3}, seq_hlc=500, own_seq=5)
    assert (report.seq, report.seq_hlc) == (5, 500)
    assert b.report({"b": 7}, seq_hlc=700, own_seq=5).seq == 7  # the vector when ahead
    a = Stability("a", ["b"])
    a.learn("b", report)
    a.advance({"b": 4})
    assert a.local_stable_hlc() == 0
    a.advance({"b": 5})
    assert a.local_stable_hlc() == 500


def test_pending_reports_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("bolt.limits.stability_reports_pending_max", 4)
    stability = Stability("a", ["b"])
    for seq in range(1, 50):
        stability.learn("b", _report({"b": seq}, seq * 10))
    assert len(stability._peers["b"].pending) == 4
    stability.advance({"b": 3})
    assert stability.local_stable_hlc() == 30
    stability.advance({"b": 49})
    assert stability.local_stable_hlc() == 490


class _Node:
    """A simulated node: its own events (seq, hlc) and the events it holds."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.clock = 0
        self.made: list[tuple[str, int, int]] = []  # (origin, seq, hlc)
        self.held: set[tuple[str, int, int]] = set()
        self.vector: dict[str, int] = {}

    def write(self, now: int) -> tuple[str, int, int]:
        self.clock = max(self.clock + 1, now)
        event = (self.name, len(self.made) + 1, self.clock)
        self.made.append(event)
        self.receive(event)
        return event

    def receive(self, event: tuple[str, int, int]) -> None:
        origin, _seq, hlc = event
        self.clock = max(self.clock, hlc)
        self.held.add(event)
        while (origin, self.vector.get(origin, 0) + 1) in {(o, s) for o, s, _ in self.held}:
            self.vector[origin] = self.vector.get(origin, 0) + 1


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32), st.integers(10, 120))
def test_the_stable_hlc_is_never_ahead_of_what_every_node_holds(seed: int, steps: int) -> None:
    rnd = random.Random(seed)
    nodes = {name: _Node(name) for name in ("a", "b", "c")}
    trackers = {name: Stability(name, [p for p in nodes if p != name]) for name in nodes}
    in_flight: list[tuple[str, tuple[str, int, int]]] = []  # (target, event), any order
    late: list[tuple[str, str, StabilityReport]] = []  # heartbeats not yet delivered
    now = 0
    for _ in range(steps):
        now += rnd.choice([0, 1, 5])
        action = rnd.random()
        node = nodes[rnd.choice(list(nodes))]
        if action < 0.4:
            event = node.write(now)
            in_flight += [(target, event) for target in nodes if target != node.name]
        elif action < 0.7 and in_flight:
            # Deliver one in-flight event; per origin and target, in order (log shipping).
            target, event = in_flight[rnd.randrange(len(in_flight))]
            first = min(
                (e for t, e in in_flight if t == target and e[0] == event[0]), key=lambda e: e[1]
            )
            in_flight.remove((target, first))
            nodes[target].receive(first)
        elif action < 0.85 or not late:
            # A heartbeat: delivered now, or later and out of order (two connections).
            sender = node
            target = rnd.choice([n for n in nodes if n != sender.name])
            report = trackers[sender.name].report(sender.vector, sender.clock)
            if rnd.random() < 0.5:
                trackers[target].learn(sender.name, report)
            else:
                late.append((target, sender.name, report))
        else:
            target, sender_name, report = late.pop(rnd.randrange(len(late)))
            trackers[target].learn(sender_name, report)
        for name, tracker in trackers.items():
            tracker.advance(nodes[name].vector)
            stable = tracker.stable_hlc()
            everything = {e for n in nodes.values() for e in n.made}
            for other in nodes.values():
                missing = [e for e in everything - other.held if e[2] <= stable]
                assert not missing, (
                    f"seed={seed}: {name} says {stable}, {other.name} lacks {missing}"
                )
            local = tracker.local_stable_hlc()
            missing_here = [e for e in everything - nodes[name].held if e[2] <= local]
            assert not missing_here, f"seed={seed}: {name}'s local stable HLC {local} is ahead"


def test_stability_rides_on_heartbeats() -> None:
    report = StabilityReport({"n1": 3}, 3, 120, 100).to_wire()
    codec = PeerCodec()
    codec.receive_data(encode_peer(Heartbeat(1, 2, 3, report)))
    message = codec.next_peer_message()
    assert message == Heartbeat(1, 2, 3, report)
    assert StabilityReport.from_wire(message.stability) == StabilityReport({"n1": 3}, 3, 120, 100)
    codec.receive_data(encode_peer(Heartbeat(1, 2, 3)))
    assert codec.next_peer_message() == Heartbeat(1, 2, 3, None)


@pytest.mark.parametrize(
    "stability",
    [
        "x",
        {"vector": {}, "seq": -1, "seq_hlc": 0, "stable_hlc": 0},
        {"vector": {"a": "1"}, "seq": 0, "seq_hlc": 0, "stable_hlc": 0},
        {"vector": {}, "seq": 0, "seq_hlc": 0},
        {"vector": [], "seq": 0, "seq_hlc": 0, "stable_hlc": 0},
    ],
)
def test_malformed_stability_reports_are_refused(stability: object) -> None:
    for obj in (
        [14, 1, 2, 3, stability],
        [
            13,
            {
                "version_vector": {},
                "hlc": 0,
                "last_offset": 0,
                "client_port": 0,
                "stability": stability,
            },
        ],
    ):
        payload = msgpack.packb(obj, use_bin_type=True)
        codec = PeerCodec()
        codec.receive_data(struct.pack("<I", len(payload)) + payload)
        with pytest.raises(ProtocolError):
            codec.next_peer_message()
