"""semjax.host: the XLA CPU settings are made once, keep what the user set, and size the pool."""

from __future__ import annotations

import os

from semjax import host


def test_pool_is_cores_plus_devices_unless_set(monkeypatch):
    monkeypatch.delenv("NPROC", raising=False)
    cores = os.cpu_count() or 1
    assert host.widen_cpu_pool(3) == str(cores + 3)
    monkeypatch.delenv("NPROC")
    assert host.widen_cpu_pool() == str(2 * cores)  # one device per core by default
    monkeypatch.setenv("NPROC", "7")
    assert host.widen_cpu_pool(3) == "7"


def test_prepare_host_keeps_the_users_flags(monkeypatch):
    monkeypatch.delenv("NPROC", raising=False)
    monkeypatch.setenv("XLA_FLAGS", "--xla_force_host_platform_device_count=3 --xla_cpu_multi_thread_eigen=true")
    flags = host.prepare_host(5).split()
    assert flags.count("--xla_force_host_platform_device_count=3") == 1
    assert "--xla_cpu_multi_thread_eigen=true" in flags and "--xla_cpu_multi_thread_eigen=false" not in flags
    assert f"{host.SCHEDULER_FLAG}=false" in flags
    assert os.environ["NPROC"] == str((os.cpu_count() or 1) + 5)
