"""Statistics and the Markdown report of bench/gateway/run.py."""

import datetime
import importlib.metadata
import os
import platform
import resource
import shutil
import ssl
import statistics
import subprocess

# The targets that the report reads the results against.
TARGET_THROUGHPUT_RATIO = 0.75
TARGET_ADDED_P99_US = 250
TARGET_MEMORY_PER_SESSION = 64 * 1024
TARGET_SESSIONS = 10_000

PATHS = ("direct-tls", "gateway", "direct-tcp", "websockify")
DIRECTIONS = ("server-to-client", "client-to-server")
# The path each relay is compared with: the same endpoint without the relay.
BASELINE = {"gateway": "direct-tls", "websockify": "direct-tcp"}
PATH_LABELS = {
    "direct-tls": "direct TCP+TLS",
    "gateway": "gateway (WebSocket, TLS to endpoint)",
    "direct-tcp": "direct TCP, no TLS",
    "websockify": "websockify (WebSocket, plain TCP to endpoint)",
}
PACKAGES = ("rdpconsole", "uvicorn", "websockets", "starlette", "h11", "websockify", "numpy",
            "cryptography", "pyasn1", "SQLAlchemy")


# --- Statistics --------------------------------------------------------------------------


def percentile(values, percent):
    """Return the nearest-rank percentile of ``values``."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * percent // 100))
    return ordered[int(rank) - 1]


def spread(values, fmt):
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(min(values))}–{fmt.format(max(values))}"


def throughput_tables(points):
    lines = []
    for direction in DIRECTIONS:
        lines += [
            f"**{direction.replace('-', ' ')}**",
            "",
            "| Path | MB/s (median) | MB/s (range) | Ratio to baseline (median, range) | Relay CPU s/GB | "
            "Relay CPU % | Endpoint CPU % | Client CPU % | Other load (CPUs) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        by_path = {path: [point for point in points if point["direction"] == direction and point["path"] == path]
                   for path in PATHS}
        for path in PATHS:
            rows = by_path[path]
            if not rows:
                continue
            rates = [point["bytes"] / point["seconds"] / 1e6 for point in rows]
            ratio_text = "baseline"
            if path in BASELINE:
                ratios = []
                for point in rows:
                    base = [other for other in by_path[BASELINE[path]] if other["round"] == point["round"]]
                    if base:
                        ratios.append((point["bytes"] / point["seconds"]) / (base[0]["bytes"] / base[0]["seconds"]))
                ratio_text = f"{statistics.median(ratios):.0%} ({spread(ratios, '{:.0%}')})" if ratios else "n/a"
            relay = path if path in BASELINE else None
            relay_gb = ([point["cpu"][relay] / (point["bytes"] / 1e9) for point in rows] if relay else None)
            relay_pct = ([point["cpu"][relay] / point["cpu"]["wall"] * 100 for point in rows] if relay else None)
            endpoint_pct = [point["cpu"]["endpoint"] / point["cpu"]["wall"] * 100 for point in rows]
            client_pct = [point["cpu"]["client"] / point["seconds"] * 100 for point in rows]
            other = [point["cpu"]["other_cpus"] for point in rows]
            lines.append(
                f"| {PATH_LABELS[path]} | {statistics.median(rates):,.0f} | {spread(rates, '{:,.0f}')} | "
                f"{ratio_text} | "
                f"{f'{statistics.median(relay_gb):.2f}' if relay else '–'} | "
                f"{f'{statistics.median(relay_pct):.0f}' if relay else '–'} | "
                f"{statistics.median(endpoint_pct):.0f} | {statistics.median(client_pct):.0f} | "
                f"{spread(other, '{:.2f}')} |"
            )
        lines.append("")
    return lines


def latency_table(points):
    lines = [
        "| Path | p50 µs | p90 µs | p99 µs | p99.9 µs | Added p50 µs | Added p99 µs (pooled) | "
        "Added p99 µs per round | Relay CPU µs per round trip | Other load (CPUs) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    pooled = {path: [sample for point in points if point["path"] == path for sample in point["samples_us"]]
              for path in PATHS}
    for path in PATHS:
        rows = [point for point in points if point["path"] == path]
        if not rows:
            continue
        samples = pooled[path]
        added50 = added99 = per_round = relay_cpu = "–"
        if path in BASELINE and pooled[BASELINE[path]]:
            base = pooled[BASELINE[path]]
            added50 = f"{percentile(samples, 50) - percentile(base, 50):,.0f}"
            added99 = f"{percentile(samples, 99) - percentile(base, 99):,.0f}"
            rounds = []
            for point in rows:
                base_rows = [other for other in points
                             if other["path"] == BASELINE[path] and other["round"] == point["round"]]
                if base_rows:
                    rounds.append(percentile(point["samples_us"], 99) - percentile(base_rows[0]["samples_us"], 99))
            per_round = spread(rounds, "{:,.0f}") if rounds else "–"
            relay_cpu = f"{statistics.median(point['cpu'][path] / len(point['samples_us']) * 1e6 for point in rows):.0f}"
        other = [point["cpu"]["other_cpus"] for point in rows]
        lines.append(
            f"| {PATH_LABELS[path]} | {percentile(samples, 50):,.0f} | {percentile(samples, 90):,.0f} | "
            f"{percentile(samples, 99):,.0f} | {percentile(samples, 99.9):,.0f} | {added50} | {added99} | "
            f"{per_round} | {relay_cpu} | {spread(other, '{:.2f}')} |"
        )
    return lines


def setup_table(setup):
    lines = [
        "| RDP server | Path | Sessions | Open p50 ms | Open p99 ms | Open → ready p50 ms | "
        "Open → ready p99 ms | Total p50 ms | Total p99 ms | Gateway CPU ms/session | Other load (CPUs) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    names = {"endpoint": "endpoint.py (TLS, RSA 2048)", "shadow": "freerdp-shadow-cli"}
    for point in setup["points"]:
        count = len(point["total_us"])
        gateway_ms = (f"{point['cpu']['gateway'] / count * 1000:.2f}" if point["path"] == "gateway" else "–")

        def ms(key, percent, point=point):
            return f"{percentile(point[key], percent) / 1000:.2f}"

        lines.append(
            f"| {names[point['target']]} | {PATH_LABELS[point['path']]} | {count} | {ms('open_us', 50)} | "
            f"{ms('open_us', 99)} | {ms('ready_us', 50)} | {ms('ready_us', 99)} | {ms('total_us', 50)} | "
            f"{ms('total_us', 99)} | {gateway_ms} | {point['cpu']['other_cpus']:.2f} |"
        )
    return lines


def memory_lines(memory):
    baseline, loaded, measured = memory["baseline"], memory["loaded"], memory["measured"]
    per_session = (loaded["rss"] - baseline["rss"]) / max(1, measured["opened"])
    lines = [
        f"Gateway process: {memory['start']['rss'] / 2**20:.1f} MiB resident after start, "
        f"{baseline['rss'] / 2**20:.1f} MiB with {memory['warmup']['held']} warm-up sessions, "
        f"{loaded['rss'] / 2**20:.1f} MiB after {measured['opened']} more "
        f"({measured['failed']} failed): **{per_session / 1024:.1f} KiB per idle session**. "
        f"Open files limit of the gateway process: {memory['fd_limit']:,}.",
        "",
        "| Sessions held | Failed in step | Resident MiB | KiB per session above the baseline | "
        "Open files | Seconds to open the step | Gateway CPU ms per opened session | Gateway alive |",
        "|---:|---:|---:|---:|---:|---:|---:|---|",
        f"| {memory['warmup']['held']:,} | {memory['warmup']['failed']} | {baseline['rss'] / 2**20:.1f} | – | "
        f"{baseline['fds']:,} | {memory['warmup']['seconds']:.1f} | "
        f"{cpu_per_session(memory['start'], baseline, memory['warmup'])} | yes |",
        f"| {measured['held']:,} | {measured['failed']} | {loaded['rss'] / 2**20:.1f} | {per_session / 1024:.1f} | "
        f"{loaded['fds']:,} | {measured['seconds']:.1f} | {cpu_per_session(baseline, loaded, measured)} | yes |",
    ]
    previous = loaded
    for step in memory["steps"]:
        state = step["state"]
        extra = step["held"] - memory["warmup"]["held"]
        per = (state["rss"] - baseline["rss"]) / max(1, extra) / 1024
        lines.append(f"| {step['held']:,} | {step['failed']} | {state['rss'] / 2**20:.1f} | {per:.1f} | "
                     f"{state['fds']:,} | {step['seconds']:.1f} | {cpu_per_session(previous, state, step)} | "
                     f"{'yes' if state['alive'] else 'no'} |")
        previous = state
    errors = {}
    for step in [memory["measured"], *memory["steps"]]:
        for text, count in step["errors"].items():
            errors[text] = errors.get(text, 0) + count
    lines += ["", f"Sessions still open 5 s after the last step: {memory['held_after_wait']:,}."]
    if errors:
        lines.append("Client-side errors: " + "; ".join(f"{count} × {text}" for text, count in errors.items()) + ".")
    if memory["gateway_log_errors"]:
        lines.append("Gateway log: " + ", ".join(f"{count} lines with '{marker}'"
                                                 for marker, count in memory["gateway_log_errors"].items()) + ".")
    return lines


def cpu_per_session(before, after, step):
    if not step["opened"]:
        return "–"
    return f"{(after['cpu'] - before['cpu']) / step['opened'] * 1000:.2f}"


def websockify_lines(result):
    lines = [
        f"websockify forks one process per connection; PSS is summed over the server and its children. "
        f"Server alone: {result['baseline_pss'] / 2**20:.1f} MiB PSS. Open files limit: {result['fd_limit']:,}.",
        "",
        "| Sessions requested | Sessions held | Failed in step | Processes | PSS MiB | KiB PSS per session | "
        "Server's open files |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for step in result["steps"]:
        per = (step["pss"] - result["baseline_pss"]) / max(1, step["held"]) / 1024
        lines.append(f"| {step['target']:,} | {step['held']:,} | {step['failed']} | {step['processes']:,} | "
                     f"{step['pss'] / 2**20:.0f} | {per:,.0f} | {step['fds']:,} |")
    errors = {}
    for step in result["steps"]:
        for text, count in step["errors"].items():
            errors[text] = errors.get(text, 0) + count
    if errors:
        lines += ["", "Client-side errors: " + "; ".join(f"{count} × {text}" for text, count in errors.items()) + "."]
    if result["log_errors"]:
        lines.append("websockify log: " + ", ".join(f"{count} lines with '{marker}'"
                                                    for marker, count in result["log_errors"].items()) + ".")
    return lines


def reading_lines(results):
    lines = []
    throughput = results.get("throughput")
    if throughput:
        for direction in DIRECTIONS:
            ratios = []
            for point in throughput:
                if point["path"] == "gateway" and point["direction"] == direction:
                    base = [other for other in throughput if other["path"] == "direct-tls"
                            and other["direction"] == direction and other["round"] == point["round"]]
                    ratios.append((point["bytes"] / point["seconds"]) / (base[0]["bytes"] / base[0]["seconds"]))
            median = statistics.median(ratios)
            verdict = "met" if median >= TARGET_THROUGHPUT_RATIO else "missed"
            lines.append(f"- Throughput {direction.replace('-', ' ')}: gateway at {median:.0%} of direct "
                         f"TCP+TLS (median; rounds {spread(ratios, '{:.0%}')}), target "
                         f"{TARGET_THROUGHPUT_RATIO:.0%}: **{verdict}**.")
    latency = results.get("latency")
    if latency:
        gateway = [sample for point in latency if point["path"] == "gateway" for sample in point["samples_us"]]
        direct = [sample for point in latency if point["path"] == "direct-tls" for sample in point["samples_us"]]
        added = percentile(gateway, 99) - percentile(direct, 99)
        verdict = "met" if added < TARGET_ADDED_P99_US else "missed"
        lines.append(f"- Added round-trip latency at p99: {added:,.0f} µs (pooled), target under "
                     f"{TARGET_ADDED_P99_US} µs: **{verdict}**.")
    memory = results.get("memory")
    if memory:
        per = (memory["loaded"]["rss"] - memory["baseline"]["rss"]) / max(1, memory["measured"]["opened"])
        verdict = "met" if per < TARGET_MEMORY_PER_SESSION else "missed"
        lines.append(f"- Resident memory per idle session at {memory['measured']['opened']:,} sessions: "
                     f"{per / 1024:.1f} KiB, target under {TARGET_MEMORY_PER_SESSION // 1024} KiB: **{verdict}**.")
        held = max([memory["measured"]["held"]] + [step["held"] for step in memory["steps"]])
        verdict = "met" if held >= TARGET_SESSIONS else "missed"
        lines.append(f"- Most concurrent idle sessions held: {held:,} (open files limit "
                     f"{memory['fd_limit']:,}), target {TARGET_SESSIONS:,}: **{verdict}**.")
    return lines


def describe_machine():
    with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "unknown")
    with open("/proc/meminfo", encoding="ascii") as meminfo:
        memory_kib = int(meminfo.readline().split()[1])
    versions = {}
    for package in PACKAGES:
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = "not installed"
    freerdp = "not installed"
    if shutil.which("freerdp-shadow-cli"):
        completed = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "freerdp2-shadow-x11"],
                                   capture_output=True, text=True)
        freerdp = completed.stdout.strip() or "installed"
    return {
        "cpus": os.cpu_count(), "model": model, "memory_gib": memory_kib / 2**20,
        "kernel": platform.release(), "python": platform.python_version(), "openssl": ssl.OPENSSL_VERSION,
        "packages": versions, "freerdp2-shadow-x11": freerdp,
        "fd_limit": resource.getrlimit(resource.RLIMIT_NOFILE),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average": os.getloadavg(),
    }


def format_report(args, machine, results, command):
    packages = ", ".join(f"{name} {version}" for name, version in machine["packages"].items())
    lines = [
        f"## Gateway benchmark, {machine['date']}",
        "",
        f"Command: `{command}`",
        "",
        f"- {machine['cpus']} CPUs, model name \"{machine['model']}\", {machine['memory_gib']:.1f} GiB memory, "
        f"Linux {machine['kernel']}; load average at the start "
        f"{', '.join(f'{value:.2f}' for value in machine['load_average'])}.",
        f"- CPython {machine['python']}, {machine['openssl']}; freerdp2-shadow-x11 {machine['freerdp2-shadow-x11']}.",
        f"- {packages}.",
        f"- Open files limit (soft, hard) of this process: {machine['fd_limit'][0]:,}, {machine['fd_limit'][1]:,}; "
        "every started process raises its soft limit to the hard limit.",
        f"- Settings: {args.rounds} rounds; transfers of {args.bytes} MiB after 16 MiB of warm-up; client messages "
        f"of {args.message_size} KiB; server-to-client data in "
        f"{f'fast-path PDUs of {args.pdu_size:,} bytes' if args.pdu_size else 'bytes that start no PDU'}; "
        f"{args.pings} pings (64-byte fast-path PDUs) per path and round; "
        f"{args.setup_sessions} set-up sessions per point.",
        "",
    ]
    if "throughput" in results:
        lines += ["### Throughput", ""] + throughput_tables(results["throughput"])
    if "latency" in results:
        lines += ["### Round-trip latency, 64-byte messages", ""] + latency_table(results["latency"]) + [""]
    if "setup" in results:
        lines += ["### Session set-up, one session after the other", ""] + setup_table(results["setup"]) + [""]
        if results["setup"]["shadow_error"]:
            lines += [f"FreeRDP's shadow server was not measured: {results['setup']['shadow_error']}", ""]
    if "memory" in results:
        lines += ["### Idle gateway sessions", ""] + memory_lines(results["memory"]) + [""]
    if "websockify-sessions" in results:
        lines += ["### Idle websockify sessions", ""] + websockify_lines(results["websockify-sessions"]) + [""]
    reading = reading_lines(results)
    if reading:
        lines += ["### Against the targets", ""] + reading + [""]
    return "\n".join(lines)
