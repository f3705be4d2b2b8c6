"""Password hashing keeps production-strength argon2id costs (the suite swaps in cheap ones for speed)."""

from __future__ import annotations

import argon2

from pipeline.accounts import passwords


def test_production_hasher_uses_argon2id_defaults(_cheap_argon2):
    import importlib

    fresh = importlib.reload(passwords)  # the module as production imports it, before the suite's swap
    try:
        p = argon2.extract_parameters(fresh._hasher.hash("correct-horse-battery"))
        assert p.type is argon2.Type.ID
        assert p.time_cost >= 3 and p.memory_cost >= 64 * 1024 and p.parallelism >= 1
    finally:
        fresh._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


def test_a_hash_of_either_cost_verifies():
    strong = argon2.PasswordHasher().hash("correct-horse-battery")
    assert passwords.verify_password(strong, "correct-horse-battery")
    assert not passwords.verify_password(strong, "wrong-horse-battery")
    assert not passwords.verify_password(None, "anything")


def test_the_unknown_login_hash_is_made_once_on_first_use_not_at_import(_cheap_argon2):
    import importlib

    fresh = importlib.reload(passwords)  # importing costs no argon2 hash (every `cur` command imports this)
    try:
        assert fresh._dummy_of.cache_info().currsize == 0
        fresh._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        assert not fresh.verify_password(None, "anything")
        assert not fresh.verify_password(None, "anything else")
        assert fresh._dummy_of.cache_info().misses == 1
    finally:
        fresh._hasher = argon2.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
