"""Tables of benchmark results: one run's, or many JSON files merged into one.

    python bench/report.py bench/results/*.json > bench/results/summary.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RUN_COLUMNS = ("route", "server", "req/s", "p50 ms", "p99 ms", "non-2xx", "× bare Flask",
               "× /healthz", "CPU µs/req", "× bcrypt", "note")
NUMERIC = {"rows", "workers", "req/s", "p50 ms", "p99 ms", "non-2xx", "× bare Flask",
           "× /healthz", "CPU µs/req", "× bcrypt"}
MATRIX_COLUMNS = ("db", "rows", "workers") + RUN_COLUMNS[:-1]


def _number(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def cells(row: dict[str, Any]) -> dict[str, str]:
    """One result row as table cells."""
    if row.get("status") == "n/a":
        return {"route": row["route"], "server": "", "req/s": "n/a", "p50 ms": "n/a",
                "p99 ms": "n/a", "non-2xx": "n/a", "× bare Flask": "n/a", "× /healthz": "n/a",
                "CPU µs/req": "n/a", "× bcrypt": "", "note": row.get("note", "")}
    return {
        "route": row["route"],
        "server": f"cost {row['bcrypt_rounds']}",
        "req/s": _number(row["ok_rps"]),
        "p50 ms": _number(row["p50_ms"], 2),
        "p99 ms": _number(row["p99_ms"], 2),
        "non-2xx": str(row["non2xx"] + row["socket_errors"]),
        "× bare Flask": _number(row.get("ratio_to_bare"), 2),
        # Results from before the bare floor have "ratio_to_floor": their floor was /healthz.
        "× /healthz": _number(row.get("ratio_to_healthz", row.get("ratio_to_floor")), 2),
        "CPU µs/req": _number(row.get("cpu_us_per_request"), 0),
        "× bcrypt": _number(row["ratio_to_bcrypt"], 2) if "ratio_to_bcrypt" in row else "",
        "note": row.get("note", ""),
    }


def _rounds(settings: dict[str, Any]) -> str:
    rounds = settings.get("rounds", 1)
    return f"median of {rounds} rounds, " if rounds > 1 else ""


def markdown(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    """A GitHub-flavoured markdown table, padded so that it also reads as plain text."""
    widths = {name: max([len(name)] + [len(row.get(name, "")) for row in rows])
              for name in columns}
    numeric = NUMERIC

    def line(values: dict[str, str]) -> str:
        return "| " + " | ".join(
            values.get(name, "").rjust(widths[name]) if name in numeric
            else values.get(name, "").ljust(widths[name]) for name in columns) + " |"

    rule = "|" + "|".join(("-" * (widths[name] + 1)) + (":" if name in numeric else "-")
                          for name in columns) + "|"
    return "\n".join([line({name: name for name in columns}), rule, *map(line, rows)])


def run_table(report: dict[str, Any]) -> str:
    """The table of one run, with its settings above it."""
    settings = report["settings"]
    bcrypt = ", ".join(f"cost {cost}: {rate:,.1f}/s" for cost, rate in report["bcrypt"].items())
    head = (f"{settings['db']}, {settings['rows']:,} rows, {settings['workers']} worker(s), "
            f"{settings['algorithm']}, {settings['duration']} s per route, "
            f"{_rounds(settings)}"
            f"commit {settings['git_commit'][:10]}{' (dirty)' if settings['git_dirty'] else ''}")
    if bcrypt:
        head += f"\nraw bcrypt_sha256 on the server's core: {bcrypt}"
    commands = settings.get("gunicorn_commands") or {}
    for name, argv in commands.items():
        head += f"\n{name}: {' '.join(argv)}"
    return head + "\n\n" + markdown(RUN_COLUMNS, [cells(row) for row in report["results"]])


def matrix_table(reports: list[dict[str, Any]]) -> str:
    """Every run's rows in one table, ordered by database, rows and workers."""
    reports = sorted(reports, key=lambda r: (r["settings"]["db"], r["settings"]["rows"],
                                             r["settings"]["workers"]))
    rows = []
    for report in reports:
        settings = report["settings"]
        for row in report["results"]:
            rows.append({"db": settings["db"], "rows": f"{settings['rows']:,}",
                         "workers": str(settings["workers"]), **cells(row)})
    return markdown(MATRIX_COLUMNS, rows)


def main(paths: list[str]) -> int:
    """Print the merged table of the given JSON result files."""
    if not paths:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    reports = [json.loads(Path(path).read_text()) for path in paths]
    commits = sorted({r["settings"]["git_commit"][:10] for r in reports})
    print(f"authapi benchmarks: {len(reports)} runs, commit(s) {', '.join(commits)}. "
          "Compare ratios (× bare Flask) within a run, never req/s across runs.\n")
    print(matrix_table(reports))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
