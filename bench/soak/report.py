"""The report of one run: JSON (everything), a markdown summary and a PNG plot."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from .checks import SLACK, throughput
from .events import EventLog, Request


def phase_of(r: Request, log: EventLog) -> str:
    for f in log.faults:
        if f.start <= r.t <= (f.end if f.end >= 0 else r.t) + SLACK:
            return f.kind
    return "steady"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def summarise(log: EventLog, verdict: dict[str, Any], config: dict[str, Any],
              consistency: dict[str, Any], end: float) -> dict[str, Any]:
    outcomes: dict[str, Counter[str]] = defaultdict(Counter)
    phases: dict[str, list[float]] = defaultdict(list)
    for r in log.requests:
        outcomes[f"{r.actor} {r.endpoint}"][f"{r.status} {r.code}".strip()] += 1
        if r.actor != "prober" and r.status:
            phases[phase_of(r, log)].append(r.ms)
    rss: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for s in log.rss:
        rss[f"{s.instance}/{s.pid}"].append((round(s.t, 1), round(s.kb / 1024, 1)))
    served = [r for r in log.requests if r.actor != "prober"]
    return {
        "config": config, "ok": verdict["ok"], "seconds": round(end, 1),
        "requests": len(log.requests), "workload_requests": len(served),
        "mean_rps": round(len(served) / end, 1) if end else 0.0,
        "invariants": verdict["invariants"], "allowed_errors": verdict["allowed_errors"],
        "consistency_queries": consistency,
        "by_endpoint": {k: dict(v) for k, v in sorted(outcomes.items())},
        "latency_ms_by_phase": {p: {"n": len(v), "p50": _pct(v, 0.5), "p99": _pct(v, 0.99)}
                                for p, v in sorted(phases.items())},
        "throughput_per_s": throughput(log.requests, end),
        "errors_per_s": _errors(log, end),
        "rss_mib": dict(rss),
        "faults": log.as_dict()["faults"],
        "broken_checks": [vars(c) for c in log.checks if not c.ok][:200],
    }


def _errors(log: EventLog, end: float) -> list[int]:
    bins = [0] * (int(end) + 1)
    for r in log.requests:
        if r.actor != "prober" and (r.status == 0 or r.status >= 500) and 0 <= r.t < len(bins):
            bins[int(r.t)] += 1
    return bins


def markdown(s: dict[str, Any], plot: str) -> str:
    c = s["config"]
    lines = [f"# authapi soak: {'all invariants held' if s['ok'] else 'INVARIANTS BROKEN'}", "",
             f"{s['seconds']:.0f} s, target {c['rate']} req/s, {s['workload_requests']} workload "
             f"requests ({s['mean_rps']} req/s mean) and {s['requests'] - s['workload_requests']}"
             f" revocation probes. {c['topology']}.", "", f"![throughput]({plot})", "",
             "## Invariants", "", "| invariant | checked | broken | notes |", "|---|---|---|---|"]
    for name, v in s["invariants"].items():
        notes = "; ".join(v["examples"][:2])
        if name == "revocation_within_1s" and "first_refusal_p50_s" in v:
            notes = (f"first refusal p50 {v['first_refusal_p50_s']} s, p99 "
                     f"{v['first_refusal_p99_s']} s; latest acceptance "
                     f"{v['latest_acceptance_s']} s after a revocation "
                     f"({v['accepted_at_all_after_revocation']} samples accepted at all); "
                     f"{v['skipped_instance_down']} skipped (instance down). {notes}")
        if name == "throughput_back_within_5s":
            notes = f"steady {v['steady_rps']} req/s. {notes}"
        lines.append(f"| {name} | {v['checked']} | {v['broken']} | {notes} |")
    lines += ["", f"Allowed errors: {s['allowed_errors'] or 'none'}.", "", "## Faults", "",
              "| t (s) | fault | whole again after (s) | throughput back after (s) | what |",
              "|---|---|---|---|---|"]
    for f in s["invariants"]["throughput_back_within_5s"]["faults"]:
        lines.append(f"| {f['start']:.1f} | {f['kind']} | {f['end'] - f['start']:.1f} | "
                     f"{f['recovery_s']} | {f['detail']} |")
    lines += ["", "## Latency by phase (ms)", "", "| phase | requests | p50 | p99 |",
              "|---|---|---|---|"]
    for p, v in s["latency_ms_by_phase"].items():
        lines.append(f"| {p} | {v['n']} | {v['p50']} | {v['p99']} |")
    lines += ["", "## Worker memory", "", "| worker | baseline MiB | final MiB | growth | over |",
              "|---|---|---|---|---|"]
    for w in s["invariants"]["rss_growth_below_10pct"]["workers"]:
        lines.append(f"| {w['instance']}/{w['pid']} | {w['baseline_kb'] / 1024:.1f} | "
                     f"{w['final_kb'] / 1024:.1f} | {w['growth']:+.1%} | {w['span_s']} s |")
    lines += ["", "## Requests by endpoint and outcome", "", "| actor, endpoint | outcomes |",
              "|---|---|"]
    for name, outcomes in s["by_endpoint"].items():
        shown = ", ".join(f"{k}: {n}" for k, n in sorted(outcomes.items()))
        lines.append(f"| {name} | {shown} |")
    lines += ["", "## Consistency queries (rows that break each rule)", ""]
    lines += [f"- {rule}: {n}" for rule, n in s["consistency_queries"].items()]
    return "\n".join(lines) + "\n"


def plot(s: dict[str, Any], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True,
                                      gridspec_kw={"height_ratios": [2, 1]})
    seconds = range(len(s["throughput_per_s"]))
    top.plot(seconds, s["throughput_per_s"], lw=0.8, label="answers/s (no 5xx)")
    top.plot(seconds, s["errors_per_s"], lw=0.8, color="red", label="5xx or no answer /s")
    colours = {"worker_kill": "tab:orange", "instance_kill": "tab:red", "pg_stop": "tab:purple",
               "redis_stop": "tab:brown", "key_rotate": "tab:green",
               "rolling_restart": "tab:gray"}
    for f in s["faults"]:
        for ax in (top, bottom):
            ax.axvspan(f["start"], max(f["end"], f["start"] + 0.5), alpha=0.25,
                       color=colours.get(f["kind"], "gray"))
        top.text(f["start"], top.get_ylim()[1] * 0.95, f["kind"], rotation=90, fontsize=7,
                 va="top")
    top.set_ylabel("per second")
    top.legend(loc="lower right", fontsize=8)
    for name, points in s["rss_mib"].items():
        bottom.plot([p[0] for p in points], [p[1] for p in points], lw=0.8, label=name)
    bottom.set_ylabel("worker RSS (MiB)")
    bottom.set_xlabel("seconds")
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return True


def write(s: dict[str, Any], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "soak.json").write_text(json.dumps(s, indent=1, default=str))
    plotted = plot(s, folder / "soak.png")
    (folder / "soak.md").write_text(markdown(s, "soak.png" if plotted else "(no matplotlib)"))
    return folder / "soak.md"
