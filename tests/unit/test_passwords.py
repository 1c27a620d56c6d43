"""argon2id: the dummy hash an unknown account is checked against costs what a real account's check costs."""

from __future__ import annotations

from argon2 import extract_parameters

from gpubroker.adapters.passwords import Argon2Hasher


def test_the_dummy_hash_carries_the_hashers_own_parameters_and_never_verifies() -> None:
    for hasher in (Argon2Hasher(), Argon2Hasher(time_cost=1, memory_kib=1024, parallelism=1)):
        real = hasher.hash("correct horse battery")
        assert extract_parameters(hasher.dummy_hash) == extract_parameters(real)
        assert hasher.verify(real, "correct horse battery")
        assert not hasher.verify(hasher.dummy_hash, "correct horse battery")
        assert not hasher.verify(hasher.dummy_hash, "")
