"""What the machine lets a run use: the cores this process may run on, and the memory it
can still take (the kernel's estimate, or less under a container's memory limit).

Linux reports both; elsewhere the memory is unknown (None) and only the cores count."""
from __future__ import annotations

import os
from pathlib import Path

PROC = Path("/proc")
CGROUP_ROOT = Path("/sys/fs/cgroup")
# cgroup v1 writes "no limit" as a number near 2**63 (rounded to the page size)
UNLIMITED = 1 << 62


def usable_cores() -> int:
    """Cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def available_memory(proc: Path = PROC, cgroup_root: Path = CGROUP_ROOT) -> int | None:
    """Bytes of memory this process can still take: the kernel's ``MemAvailable``, or the
    room under the memory limit of the process's cgroup when that is smaller (a container
    limited to 2 GiB on a 64 GiB host). The room is the limit less what the group uses,
    counting its inactive file cache as free (the kernel drops that first). None when
    neither can be read."""
    found = [room for room in (_meminfo_available(proc), _cgroup_room(proc, cgroup_root)) if room is not None]
    return min(found) if found else None


def _meminfo_available(proc: Path) -> int | None:
    try:
        text = (proc / "meminfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("MemAvailable:"):
            parts = line.split()
            try:
                return int(parts[1]) * 1024  # kB
            except (IndexError, ValueError):
                return None
    return None


def _cgroup_room(proc: Path, cgroup_root: Path) -> int | None:
    """The room under the process's cgroup memory limit (v2 or v1); None without a limit."""
    try:
        lines = (proc / "self" / "cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        relative = path.lstrip("/")
        if controllers == "":  # v2: one unified hierarchy
            names = ("memory.max", "memory.current", "inactive_file")
            places = (cgroup_root / relative, cgroup_root)
        elif "memory" in controllers.split(","):
            names = ("memory.limit_in_bytes", "memory.usage_in_bytes", "total_inactive_file")
            places = (cgroup_root / "memory" / relative, cgroup_root / "memory")
        else:
            continue
        for place in places:  # the group's own folder, or the root when the container sees only its own
            room = _room_in(place, *names)
            if room is not None:
                return room
    return None


def _room_in(folder: Path, limit_name: str, usage_name: str, inactive_name: str) -> int | None:
    try:
        limit_text = (folder / limit_name).read_text().strip()
        usage = int((folder / usage_name).read_text().strip())
    except (OSError, ValueError):
        return None
    if limit_text == "max":
        return None
    try:
        limit = int(limit_text)
    except ValueError:
        return None
    if limit >= UNLIMITED:
        return None
    inactive = 0
    try:
        for line in (folder / "memory.stat").read_text().splitlines():
            key, _, value = line.partition(" ")
            if key == inactive_name:
                inactive = int(value)
                break
    except (OSError, ValueError):
        inactive = 0
    return max(0, limit - max(0, usage - inactive))
