"""The challenge login's proofs (pure): only the right key proves, nothing replays."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bolt.wire import login

# Cheap scrypt parameters: the proofs do not depend on the cost.
SALT = b"0123456789abcdef"


def key_of(password: str) -> bytes:
    return login.derive_key(password, SALT, 2, 1, 1, 32)


passwords = st.text(min_size=1, max_size=20)
nonces = st.binary(min_size=16, max_size=16).map(bytes.hex)


@settings(max_examples=60)
@given(passwords, passwords, nonces, nonces, st.text(min_size=1, max_size=10))
def test_only_the_right_password_proves(
    password: str, guess: str, client_nonce: str, server_nonce: str, user: str
) -> None:
    stored = login.stored_key(key_of(password))
    message = login.auth_message(user, client_nonce, server_nonce)
    assert login.check_client_proof(stored, message, login.client_proof(key_of(password), message))
    wrong = login.check_client_proof(stored, message, login.client_proof(key_of(guess), message))
    assert wrong == (guess == password)


@settings(max_examples=60)
@given(passwords, nonces, nonces, nonces)
def test_a_proof_does_not_replay_under_another_server_nonce(
    password: str, client_nonce: str, first: str, second: str
) -> None:
    key = key_of(password)
    captured = login.client_proof(key, login.auth_message("u", client_nonce, first))
    replayed = login.auth_message("u", client_nonce, second)
    assert login.check_client_proof(login.stored_key(key), replayed, captured) == (first == second)


@given(passwords, passwords)
def test_the_server_proof_needs_the_key(password: str, other: str) -> None:
    message = login.auth_message("u", "a" * 32, "b" * 32)
    right = login.server_proof(login.server_key(key_of(password)), message)
    assert (login.server_proof(login.server_key(key_of(other)), message) == right) == (
        password == other
    )


def test_a_proof_of_the_wrong_length_is_refused() -> None:
    stored = login.stored_key(key_of("pw"))
    assert not login.check_client_proof(stored, b"m", b"short")
    assert login.new_nonce() != login.new_nonce() and len(login.new_nonce()) == 32
