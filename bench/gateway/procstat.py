"""CPU time, memory and file descriptors of processes, read from Linux's /proc."""

import os

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _children(pid):
    children = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return children
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as listing:
                children.extend(int(child) for child in listing.read().split())
        except FileNotFoundError:
            continue
    return children


def process_tree(pid):
    """Return ``pid`` and all of its descendants that are alive now."""
    pids = [pid]
    index = 0
    while index < len(pids):
        pids.extend(_children(pids[index]))
        index += 1
    return pids


def cpu_seconds(pid):
    """Return the user and system CPU seconds of ``pid`` (all threads); 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # Fields 14 and 15 of proc(5), utime and stime; fields[0] is field 3.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def tree_cpu_seconds(pid):
    """Return the CPU seconds of ``pid`` and its live descendants, plus the descendants it reaped.

    Fields 16 and 17 of proc(5), cutime and cstime, hold the CPU time of
    children that ended and were waited for.
    """
    total = 0.0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += sum(int(value) for value in fields[11:15]) / CLOCK_TICKS
    return total


def _status_kib(pid, field):
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise ValueError(f"no {field} in /proc/{pid}/status")


def rss_bytes(pid):
    """Return the resident set size (VmRSS) of ``pid`` in bytes."""
    return _status_kib(pid, "VmRSS") * 1024


def tree_pss_bytes(pid):
    """Return the proportional set size (Pss) summed over ``pid`` and its descendants, in bytes.

    Pss splits each shared page among the processes that map it, so forked
    children that share their parent's pages are not counted many times.
    """
    total = 0
    for member in process_tree(pid):
        try:
            with open(f"/proc/{member}/smaps_rollup", encoding="ascii") as rollup:
                for line in rollup:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (FileNotFoundError, ProcessLookupError):
            continue
    return total


def fd_count(pid):
    """Return the number of open file descriptors of ``pid``."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def fd_limit(pid):
    """Return the soft limit of open files of ``pid``, from /proc/PID/limits."""
    with open(f"/proc/{pid}/limits", encoding="ascii") as limits:
        for line in limits:
            if line.startswith("Max open files"):
                return int(line.split()[3])
    raise ValueError(f"no open-files limit in /proc/{pid}/limits")


def machine_busy_seconds():
    """Return the CPU seconds that all CPUs spent not idle since boot."""
    with open("/proc/stat", encoding="ascii") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...: skip idle and iowait.
    busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
    return busy / CLOCK_TICKS
