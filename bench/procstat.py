"""Per-process CPU time and memory read from /proc (Linux only).

CPU is utime + stime of /proc/<pid>/stat (all threads of the process), summed over the process
and its live descendants; memory is VmRSS / VmHWM of /proc/<pid>/status and Pss of
/proc/<pid>/smaps_rollup.
"""

from __future__ import annotations

import os

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    with open(f"/proc/{pid}/stat") as f:
        text = f.read()
    # The command name (field 2) may contain spaces: split after its closing parenthesis.
    return text[text.rindex(")") + 2 :].split()


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process (all its threads), in seconds."""
    fields = _stat_fields(pid)
    # fields[0] is field 3 (state); utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def descendants(pid: int) -> list[int]:
    """pid and every live process below it."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            ppid = int(_stat_fields(int(name))[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of pid and its live descendants."""
    total = 0.0
    for p in descendants(pid):
        try:
            total += cpu_seconds(p)
        except OSError:
            pass
    return total


def status_kib(pid: int, key: str) -> int:
    """A numeric field of /proc/<pid>/status (VmRSS and VmHWM are in KiB)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def pss_kib(pid: int) -> int | None:
    """Proportional set size (shared pages divided among their users), in KiB."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def memory(pid: int) -> dict:
    """RSS, peak RSS and PSS of one process, in KiB."""
    return {
        "pid": pid,
        "rss_kib": status_kib(pid, "VmRSS"),
        "hwm_kib": status_kib(pid, "VmHWM"),
        "pss_kib": pss_kib(pid),
        "threads": status_kib(pid, "Threads"),
    }



def machine_busy_seconds() -> float:
    """CPU seconds all processes of the machine spent busy (every core), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal (guest time is already in user/nice).
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK
