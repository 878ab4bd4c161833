"""Shared fixtures and hypothesis settings."""

import os
import tempfile

# One compilation cache for the whole session, shared with the CLI subprocesses the tests start:
# a program compiled once (the same tiny training in several commands) is loaded after that.
# Set before JAX reads its config; a cache the user set is kept.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="semjax-test-xla-cache-")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

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
