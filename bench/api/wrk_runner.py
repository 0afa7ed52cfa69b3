"""Run wrk against one URL with a generated Lua script and return its counts and percentiles.

wrk (https://github.com/wg/wrk, Debian package ``wrk``) is a closed-loop
generator: each connection sends its next request when the previous
response arrives, so ``--connections`` is the number of concurrent clients.
The Lua ``done()`` hook prints one machine-readable line with wrk's own
latency histogram (microsecond resolution), which avoids parsing the
human-readable report.
"""

import dataclasses
import json
import os
import re
import resource
import shutil
import subprocess

RESULT_MARKER = "BENCH_RESULT "

# Prints the summary as one JSON line; latency values are microseconds.
_DONE_HOOK = r"""
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '%s{"requests": %d, "duration_us": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "status_errors": %d, "timeouts": %d, "p50_us": %d, ' ..
    '"p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    "{marker}", summary.requests, summary.duration, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean))
end
"""

# Cycles through the lines of a file, appended to a path prefix. Each wrk
# thread has its own Lua state, so each starts at a different offset.
_PATH_CYCLE = r"""
local suffixes = {}
local index = 0
function init(args)
  for line in io.lines("{suffix_file}") do
    if line ~= "" then suffixes[#suffixes + 1] = line end
  end
  index = math.random(#suffixes)
end
function request()
  index = index % #suffixes + 1
  return wrk.format(nil, "{path_prefix}" .. suffixes[index])
end
"""


class WrkError(Exception):
    """wrk is missing, failed, or printed no result line."""


@dataclasses.dataclass
class Request:
    """The method, headers, body and path of every request of one benchmark point."""

    method: str = "GET"
    headers: dict = dataclasses.field(default_factory=dict)
    body: str = None
    # When set, the request path is path_prefix + one line of suffix_file, in turn.
    path_prefix: str = None
    suffix_file: str = None


@dataclasses.dataclass
class Result:
    clients: int
    requests: int
    duration_s: float
    errors: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    generator_cpu_percent: float

    @property
    def rate(self):
        return self.requests / self.duration_s if self.duration_s else 0.0


def find_wrk():
    path = shutil.which("wrk")
    if path is None:
        raise WrkError("wrk is not installed; install it with 'apt-get install -y wrk'")
    return path


def wrk_version(wrk_path):
    completed = subprocess.run([wrk_path, "--version"], capture_output=True, text=True)
    match = re.search(r"wrk (\S+)", completed.stdout + completed.stderr)
    return match.group(1) if match else "unknown"


def _lua_string(value):
    """Return ``value`` as a double-quoted Lua string literal, with decimal escapes."""
    escaped = "".join(
        character if character.isascii() and character.isprintable() and character not in '"\\'
        else "".join(f"\\{byte:03d}" for byte in character.encode("utf-8"))
        for character in value
    )
    return f'"{escaped}"'


def render_script(request):
    lines = [f"wrk.method = {_lua_string(request.method)}"]
    for name, value in request.headers.items():
        lines.append(f"wrk.headers[{_lua_string(name)}] = {_lua_string(value)}")
    if request.body is not None:
        lines.append(f"wrk.body = {_lua_string(request.body)}")
    if request.path_prefix is not None:
        lines.append(
            _PATH_CYCLE.replace("{suffix_file}", request.suffix_file)
            .replace("{path_prefix}", request.path_prefix)
        )
    lines.append(_DONE_HOOK.replace("{marker}", RESULT_MARKER))
    return "\n".join(lines) + "\n"


def run(wrk_path, url, request, clients, duration_s, threads, script_dir, timeout_s=5):
    """Run one point: ``clients`` connections for ``duration_s`` seconds; return a Result."""
    script_path = os.path.join(script_dir, f"wrk-{os.getpid()}-{clients}.lua")
    with open(script_path, "w", encoding="utf-8") as script:
        script.write(render_script(request))

    argv = [
        wrk_path,
        f"--threads={max(1, min(threads, clients))}",
        f"--connections={clients}",
        f"--duration={duration_s}s",
        f"--timeout={timeout_s}s",
        f"--script={script_path}",
        url,
    ]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    completed = subprocess.run(argv, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if completed.returncode != 0:
        raise WrkError(f"wrk exited with status {completed.returncode}: {completed.stderr.strip()}")

    summary = None
    for line in completed.stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            summary = json.loads(line[len(RESULT_MARKER):])
    if summary is None:
        raise WrkError(f"wrk printed no result line for {url}:\n{completed.stdout}{completed.stderr}")

    duration = summary["duration_us"] / 1e6
    cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    errors = sum(summary[key] for key in (
        "connect_errors", "read_errors", "write_errors", "status_errors", "timeouts"))
    return Result(
        clients=clients,
        requests=summary["requests"],
        duration_s=duration,
        errors=errors,
        p50_ms=summary["p50_us"] / 1000,
        p90_ms=summary["p90_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
        max_ms=summary["max_us"] / 1000,
        mean_ms=summary["mean_us"] / 1000,
        generator_cpu_percent=100 * cpu_seconds / duration if duration else 0.0,
    )
