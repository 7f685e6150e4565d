"""The convergence rule for tasks (bolt.state._tasks): nodes that make concurrent
transitions of one task -- two claims of one attempt, a late completion against a
takeover's expiry -- and exchange their logs in any schedule end with the same task."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.errors import RequestError
from bolt.events import Event
from bolt.state import apply
from bolt.testing._clock import ManualClock
from tests.state._support import SimNode

NODES = ("n1", "n2", "n3")
OPS = ("claim", "complete", "fail", "renew", "expire", "cancel", "retry", "sync", "tick")


class Node(SimNode):
    """A simulated node that keeps what it applied, in order (what it ships to peers)."""

    def __init__(self, origin: str, clock: ManualClock) -> None:
        super().__init__(origin, clock)
        self.applied: list[Event] = []

    def act(self, command: str, *args: object) -> None:
        try:
            _, events = self.run(command, *args)
        except RequestError:
            return  # refused here (stale attempt, wrong status): nothing changed
        self.applied.extend(events)

    def receive(self, events: list[Event]) -> None:
        for event in events:
            self.hlc.observe(event.hlc)
            if apply(self.keyspace, event):
                self.applied.append(event)


def _state(node: Node, task_id: str) -> tuple[object, ...]:
    task = node.keyspace.tasks.get("", task_id)
    assert task is not None
    return (
        task.status,
        task.attempt,
        task.attempt_limit,
        task.agent_id,
        task.lease_expires_at_ms,
        task.result,
        task.version,
    )


@settings(max_examples=150, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(NODES), st.sampled_from(OPS), st.sampled_from(NODES)),
        min_size=1,
        max_size=40,
    ),
    seed=st.integers(0, 2**16),
)
def test_concurrent_transitions_converge_in_any_exchange_order(
    steps: list[tuple[str, str, str]], seed: int
) -> None:
    clock = ManualClock()
    nodes = {name: Node(name, clock) for name in NODES}
    first = nodes["n1"]
    reply, created = first.run("TASK.CREATE", "t1", "job", {"x": 1}, {"max_attempts": 3})
    task_id = reply["id"]
    first.applied = list(created)
    for node in nodes.values():
        node.receive(created)  # every node knows the task; each acts on its own view
    for where, op, other in steps:
        node = nodes[where]
        task = node.keyspace.tasks.get("", task_id)
        assert task is not None
        attempt = task.attempt
        if op == "claim":
            node.act("TASK.CLAIM", "job", f"agent-{where}", 1000)
        elif op == "complete":
            node.act("TASK.COMPLETE", task_id, attempt, f"result-{where}")
        elif op == "fail":
            node.act("TASK.FAIL", task_id, attempt, f"error-{where}", True)
        elif op == "renew":
            node.act("TASK.RENEW", task_id, attempt, 3000)
        elif op == "expire":
            node.act("TASK.EXPIRE")
        elif op == "cancel":
            node.act("TASK.CANCEL", task_id, f"cancelled on {where}")
        elif op == "retry":
            node.act("TASK.RETRY", task_id)
        elif op == "sync":
            nodes[other].receive(list(node.applied))
        else:
            clock.advance(700)
    rng = random.Random(seed)
    for _ in range(2):  # full exchange in a random order, twice (relays included)
        pairs = [(a, b) for a in NODES for b in NODES if a != b]
        rng.shuffle(pairs)
        for a, b in pairs:
            nodes[b].receive(list(nodes[a].applied))
    states = {name: _state(node, task_id) for name, node in nodes.items()}
    assert len(set(states.values())) == 1, states


def test_two_concurrent_claims_of_one_attempt_pick_the_same_holder_everywhere() -> None:
    clock = ManualClock()
    a, b = Node("n1", clock), Node("n2", clock)
    _, created = a.run("TASK.CREATE", "t1", "job", {}, None)
    b.receive(created)
    _, claim_a = a.run("TASK.CLAIM", "job", "agent-a", 1000)
    clock.advance(1)
    _, claim_b = b.run("TASK.CLAIM", "job", "agent-b", 1000)
    a.receive(claim_b)
    b.receive(claim_a)
    held_a, held_b = a.keyspace.tasks.get("", "t1"), b.keyspace.tasks.get("", "t1")
    assert held_a is not None and held_b is not None
    assert held_a.agent_id == held_b.agent_id == "agent-b"  # the greater (hlc, origin) wins
    assert held_a.version == held_b.version
