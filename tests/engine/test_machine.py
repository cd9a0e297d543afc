"""checker.machine: the memory a run can take (the kernel's estimate, a container's limit),
read from fake /proc and cgroup trees; and the default number of workers it allows."""
from __future__ import annotations

from pathlib import Path

import pytest

from checker.executors.local import WORKER_MEMORY_BYTES, default_jobs
from checker.machine import available_memory

GIB = 1 << 30


def fake_machine(tmp_path: Path, mem_available_kb: int | None, cgroup_line: str | None = None,
                 files: dict[str, str] | None = None) -> tuple[Path, Path]:
    proc, root = tmp_path / "proc", tmp_path / "cgroup"
    (proc / "self").mkdir(parents=True)
    root.mkdir()
    meminfo = "MemTotal:       25165824 kB\nMemFree:         1000000 kB\n"
    if mem_available_kb is not None:
        meminfo += f"MemAvailable:   {mem_available_kb} kB\n"
    (proc / "meminfo").write_text(meminfo + "Buffers:           1000 kB\n")
    if cgroup_line is not None:
        (proc / "self" / "cgroup").write_text(cgroup_line + "\n")
    for name, text in (files or {}).items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return proc, root


def test_without_a_cgroup_limit_the_kernels_estimate_counts(tmp_path):
    proc, root = fake_machine(tmp_path, 8 * 1024 * 1024, "0::/user.slice",
                              {"user.slice/memory.max": "max\n", "user.slice/memory.current": "123\n"})
    assert available_memory(proc, root) == 8 * GIB


def test_a_cgroup_v2_limit_below_it_counts_with_its_inactive_cache_free(tmp_path):
    proc, root = fake_machine(tmp_path, 20 * 1024 * 1024, "0::/docker/abc", {
        "docker/abc/memory.max": f"{2 * GIB}\n",
        "docker/abc/memory.current": f"{GIB}\n",
        "docker/abc/memory.stat": f"anon 1000\nfile 2000\ninactive_file {GIB // 2}\nactive_file 5\n",
    })
    assert available_memory(proc, root) == 2 * GIB - GIB // 2


def test_a_container_that_sees_only_its_own_group_at_the_root(tmp_path):
    # the group's path names the host's hierarchy; inside the container it is mounted as the root
    proc, root = fake_machine(tmp_path, 20 * 1024 * 1024, "0::/kubepods/pod1/c2",
                              {"memory.max": f"{3 * GIB}\n", "memory.current": "0\n"})
    assert available_memory(proc, root) == 3 * GIB


def test_cgroup_v1_limits_and_its_unlimited_value(tmp_path):
    limited = tmp_path / "limited"
    proc, root = fake_machine(limited, 20 * 1024 * 1024, "4:memory:/job\n3:cpuset:/", {
        "memory/job/memory.limit_in_bytes": f"{4 * GIB}\n",
        "memory/job/memory.usage_in_bytes": f"{3 * GIB}\n",
        "memory/job/memory.stat": f"cache 5\ntotal_inactive_file {GIB}\n",
    })
    assert available_memory(proc, root) == 2 * GIB
    unlimited = tmp_path / "unlimited"
    proc, root = fake_machine(unlimited, 6 * 1024 * 1024, "4:memory:/", {
        "memory/memory.limit_in_bytes": "9223372036854771712\n",
        "memory/memory.usage_in_bytes": f"{GIB}\n",
    })
    assert available_memory(proc, root) == 6 * GIB


def test_nothing_readable_is_unknown(tmp_path):
    proc, root = tmp_path / "no-proc", tmp_path / "no-cgroup"
    assert available_memory(proc, root) is None
    proc, root = fake_machine(tmp_path, None, "0::/", {"memory.max": "max\n", "memory.current": "1\n"})
    assert available_memory(proc, root) is None


def test_the_machine_this_runs_on_gives_a_positive_figure_or_none():
    found = available_memory()
    assert found is None or found > 0


@pytest.mark.parametrize("cores, memory, expected", [
    (16, 3 * WORKER_MEMORY_BYTES + 5, 3),   # memory is short: fewer workers than cores
    (2, 24 * GIB, 2),                       # this machine: one per core
    (8, WORKER_MEMORY_BYTES // 2, 1),       # never fewer than one
    (4, 0, 1),
])
def test_default_jobs_is_one_per_core_within_the_memory(cores, memory, expected):
    assert default_jobs(cores=cores, memory=memory) == expected


def test_default_jobs_without_a_memory_figure_is_one_per_core(monkeypatch):
    import checker.executors.local as local

    monkeypatch.setattr(local, "available_memory", lambda: None)
    assert default_jobs(cores=12) == 12
    monkeypatch.setattr(local, "available_memory", lambda: 2 * WORKER_MEMORY_BYTES)
    monkeypatch.setattr(local, "usable_cores", lambda: 12)
    assert default_jobs() == 2
