"""What authapi's app-wide hooks cost on GET /healthz, against a bare Flask app, in-process.

    taskset -c 0 python bench/hooks.py                 # 20,000 requests per variant
    taskset -c 0 python bench/hooks.py -n 50000 --chunk 2000

Each request is one direct WSGI call (`app(environ, start_response)`, the body
iterated and closed, as a server would) with a prebuilt environ from werkzeug's
EnvironBuilder: GET /healthz with an `Authorization: Bearer ...` header the size of
an RS256 access token, as bench/run.py sends (not a real token: nothing on /healthz
reads it). No HTTP, no server, no test client.

Timed as this thread's CPU time (time.thread_time), not wall time: on a shared core
the wall clock also counts whoever else ran. The variants take turns, in a shuffled
order, every `--chunk` requests (after 50 unrecorded ones), until each has served
`-n`; the table shows the best and the median chunk of each. The variants:
- bench/bare_app.py's app;
- authapi's app, as `create_app` builds it (temporary SQLite file, AUTHAPI_ENV=testing,
  other AUTHAPI_* settings from the environment as a server would read them);
- authapi's app with one hook removed, for each before_request, after_request,
  teardown_request and teardown_appcontext function (found in the app's
  `*_funcs` registries, app-wide and per blueprint), then with all of them removed;
- the same, all hooks removed and also no session: with a SECRET_KEY, Flask builds a
  signed-cookie serializer on every request; the bare app has no secret key.

A hook's cost is (authapi) - (authapi without that hook). "the session" is (without
any hook) - (without any hook or session); "rest" is (without any hook or session) -
(bare): the larger URL map, the response class, flask-smorest and the rest.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import bare_app
from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from werkzeug.test import EnvironBuilder

from authapi import create_app

HOOK_REGISTRIES = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs",
                   "url_value_preprocessors")
BARE, FULL = "bare Flask (bench/bare_app.py)", "authapi, as built"
NO_HOOKS, NO_SESSION = "authapi without any hook", "authapi without any hook, no session"
HEADERS = {"Authorization": "Bearer " + "x" * 700}  # about the size of an RS256 access token


class NoSession(SecureCookieSessionInterface):
    """What a Flask app without a secret key does: no session, a null one on demand."""

    def open_session(self, app: Flask, request: Any) -> None:  # type: ignore[override]
        return None


def hooks(app: Flask) -> list[tuple[str, Any, Callable[..., Any]]]:
    """(registry, blueprint or None, function) for every per-request hook of the app."""
    found = []
    for registry in HOOK_REGISTRIES:
        for scope, funcs in getattr(app, registry).items():
            found += [(registry, scope, func) for func in funcs]
    found += [("teardown_appcontext_funcs", None, func) for func in app.teardown_appcontext_funcs]
    return found


def hook_name(registry: str, scope: Any, func: Callable[..., Any]) -> str:
    """`kind: module.function` (and the blueprint, if scoped to one)."""
    kind = registry.removesuffix("_funcs").removesuffix("s")
    while isinstance(func, functools.partial):  # Flask-Limiter registers partials
        func = func.func
    where = f" [{scope}]" if scope else ""
    return f"{kind}{where}: {func.__module__}.{getattr(func, '__qualname__', repr(func))}"


def _registry(app: Flask, registry: str, scope: Any) -> list[Callable[..., Any]]:
    target = getattr(app, registry)
    return target if registry == "teardown_appcontext_funcs" else target[scope]


@contextmanager
def without(app: Flask, removed: list[tuple[str, Any, Callable[..., Any]]],
            session: bool = True) -> Iterator[None]:
    """The app with these hooks (and, if not `session`, its session) taken out for a while."""
    saved = {(registry, scope): list(_registry(app, registry, scope))
             for registry, scope, _ in removed}
    saved_interface = app.session_interface
    for registry, scope, func in removed:
        _registry(app, registry, scope).remove(func)
    if not session:
        app.session_interface = NoSession()
    try:
        yield
    finally:
        app.session_interface = saved_interface
        for (registry, scope), funcs in saved.items():
            _registry(app, registry, scope)[:] = funcs  # the original order


def timer(app: Flask, environ: dict[str, Any]) -> Callable[[int], float]:
    """A function that serves `n` requests and returns this thread's CPU µs per request.

    CPU time, not wall time: on a shared core, wall time counts the time other
    processes ran, which is neither constant nor this code's cost.
    """
    status: list[str] = []

    def start_response(code: str, _headers: list[tuple[str, str]], *_exc: Any) -> None:
        status.append(code)

    def run(n: int) -> float:
        status.clear()
        started = time.thread_time()
        for _ in range(n):
            body = app(environ.copy(), start_response)
            for _chunk in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        elapsed = time.thread_time() - started
        assert set(status) == {"200 OK"}, set(status)
        return elapsed / n * 1e6

    return run


def main(argv: list[str] | None = None) -> int:
    """Build both apps, time every variant, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("-n", type=int, default=20_000, help="requests per variant, in all")
    parser.add_argument("--chunk", type=int, default=1_000,
                        help="requests per timing: the variants take turns every chunk")
    parser.add_argument("--cpu", type=int, help="pin this process to one core")
    options = parser.parse_args(argv)
    if options.cpu is not None:
        os.sched_setaffinity(0, {options.cpu})
    rounds = max(1, options.n // options.chunk)

    with tempfile.TemporaryDirectory(prefix="authapi-hooks-") as tmp:
        app = create_app({"AUTHAPI_DATABASE_URL": f"sqlite:///{Path(tmp) / 'hooks.db'}",
                          "AUTHAPI_ENV": "testing", "AUTHAPI_INSTANCE_PATH": tmp})
        environ = EnvironBuilder(path="/healthz", headers=HEADERS,
                                 environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_environ()
        found = hooks(app)
        names = [hook_name(*hook) for hook in found]

        # (label, app, hooks removed, keep the session)
        variants: list[tuple[str, Flask, list[Any], bool]] = [
            (BARE, bare_app.app, [], True),
            (FULL, app, [], True),
            *[(f"without {name}", app, [hook], True) for name, hook in zip(names, found,
                                                                           strict=True)],
            (NO_HOOKS, app, found, True),
            (NO_SESSION, app, found, False),
        ]
        samples: dict[str, list[float]] = {label: [] for label, *_ in variants}
        order = random.Random(0)
        for round_no in range(rounds):
            order.shuffle(variants)  # no variant always follows the same one
            for label, target, removed, session in variants:
                with without(target, removed, session):
                    run = timer(target, environ)
                    run(50)  # the first requests after a change refill caches
                    samples[label].append(run(options.chunk))
            if (round_no + 1) % 5 == 0 or round_no + 1 == rounds:
                print(f"round {round_no + 1}/{rounds}", flush=True)
        app.extensions["authapi.engine"].dispose()
        app.extensions["authapi.read_engine"].dispose()

    best = {label: min(values) for label, values in samples.items()}
    median = {label: statistics.median(values) for label, values in samples.items()}
    print(f"\nGET /healthz, direct WSGI calls, thread CPU time; {rounds} rounds of "
          f"{options.chunk:,} requests per variant ({rounds * options.chunk:,} in all), the "
          f"variants taking turns; cores {sorted(os.sched_getaffinity(0))}")
    print(f"bare app hooks: {[hook_name(*hook) for hook in hooks(bare_app.app)] or 'none'}\n")

    def cost(more: str, less: str) -> tuple[str, str]:
        return f"{best[more] - best[less]:+.1f}", f"{median[more] - median[less]:+.1f}"

    def total(label: str) -> tuple[str, str]:
        return f"{best[label]:.1f}", f"{median[label]:.1f}"

    rows = [("bare Flask: GET /healthz", *total(BARE), "", ""),
            ("authapi: GET /healthz", *total(FULL), *cost(FULL, BARE))]
    for name in names:
        rows.append((f"  {name}", "", "", *cost(FULL, f"without {name}")))
    singles = [(best[FULL] - best[f"without {name}"], median[FULL] - median[f"without {name}"])
               for name in names]
    rows += [
        ("  sum of the hooks above, one at a time", "", "",
         f"{sum(b for b, _ in singles):+.1f}", f"{sum(m for _, m in singles):+.1f}"),
        ("  all hooks removed together", "", "", *cost(FULL, NO_HOOKS)),
        ("authapi without any hook", *total(NO_HOOKS), "", ""),
        ("  the session (SECRET_KEY set)", "", "", *cost(NO_HOOKS, NO_SESSION)),
        ("  rest: URL map, response class, ...", "", "", *cost(NO_SESSION, BARE)),
    ]
    heads = ("what", "best µs/req", "median µs/req", "cost µs (best)", "cost µs (median)")
    width = [max(len(head), *(len(row[k]) for row in rows)) for k, head in enumerate(heads)]
    print("| " + " | ".join(head.ljust(w) if k == 0 else head.rjust(w)
                            for k, (head, w) in enumerate(zip(heads, width, strict=True))) + " |")
    print("|" + "|".join("-" * (w + 1) + ("-" if k == 0 else ":")
                         for k, w in enumerate(width)) + "|")
    for row in rows:
        print("| " + " | ".join(cell.ljust(w) if k == 0 else cell.rjust(w)
                                for k, (cell, w) in enumerate(zip(row, width, strict=True))) + " |")
    print(f"\nIn-process, authapi's /healthz costs {median[FULL] / median[BARE]:.1f}x the bare "
          f"app's CPU per request (medians; a rate of {median[BARE] / median[FULL]:.2f}x), "
          "before any HTTP or gunicorn cost.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
