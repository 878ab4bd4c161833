"""Shared fixtures and hypothesis settings."""

import os

import jax
import pytest
from hypothesis import HealthCheck, settings

# Deterministic, CI-sized hypothesis runs; jit compiles make the first examples slow.
settings.register_profile(
    "ci",
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(scope="session")
def env():
    import semjax

    return semjax.SemanticMEC()


@pytest.fixture(scope="session")
def params(env):
    return env.default_params


@pytest.fixture
def key():
    return jax.random.key(0)
