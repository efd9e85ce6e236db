"""A process's peak memory, from Linux's /proc, for tests that bound it."""

from __future__ import annotations

import os
from pathlib import Path


def _status(pid: int) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = (line.split(":", 1) for line in lines)
    return {key: int(value.split()[0]) for key, value in fields if key in ("VmRSS", "VmHWM")}


def restart_peak(pid: int | None = None) -> float:
    """Start the process's peak resident memory (VmHWM) again from what is
    resident now; -> that, in MiB."""
    pid = pid or os.getpid()
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    return _status(pid)["VmRSS"] / 1024


def peak_mib(pid: int | None = None) -> float:
    """The process's peak resident memory since restart_peak, in MiB."""
    return _status(pid or os.getpid())["VmHWM"] / 1024
