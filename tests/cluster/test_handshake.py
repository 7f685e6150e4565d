"""The HMAC challenge-response: proofs bind secret, role, nonces and ids."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bolt.cluster._handshake import ROLE_ANSWER, ROLE_DIAL, check_proof, proof

fields = st.tuples(
    st.binary(min_size=1, max_size=16),
    st.sampled_from([ROLE_DIAL, ROLE_ANSWER]),
    st.binary(min_size=32, max_size=32),
    st.binary(min_size=32, max_size=32),
    st.text(min_size=1, max_size=8),
    st.text(min_size=1, max_size=8),
)


@given(fields)
def test_a_proof_checks(args: tuple) -> None:
    assert check_proof(proof(*args), *args)


@given(fields, fields)
def test_a_proof_for_other_inputs_fails(a: tuple, b: tuple) -> None:
    if a != b:
        assert not check_proof(proof(*a), *b)


def test_roles_and_ids_are_not_interchangeable() -> None:
    secret, n1, n2 = b"s", b"a" * 32, b"b" * 32
    dial = proof(secret, ROLE_DIAL, n1, n2, "x", "y")
    assert not check_proof(dial, secret, ROLE_ANSWER, n1, n2, "x", "y")  # no reflection
    assert not check_proof(dial, secret, ROLE_DIAL, n1, n2, "y", "x")  # ids are bound
    assert not check_proof(dial, secret, ROLE_DIAL, n2, n1, "x", "y")  # nonces are bound
    # fields are length-prefixed: moving a byte from one id to the other changes the proof
    assert proof(secret, ROLE_DIAL, n1, n2, "ab", "c") != proof(
        secret, ROLE_DIAL, n1, n2, "a", "bc"
    )
