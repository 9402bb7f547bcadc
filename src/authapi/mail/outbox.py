"""The mail outbox: a row written in the request's transaction, sent after commit.

A request never waits on SMTP: it adds a row, and after the response the process's
worker thread sends it. Each attempt is claimed by one conditional UPDATE (so two
processes never send the same mail twice at once); a failure is retried with an
exponential, capped back-off until AUTHAPI_MAIL_MAX_ATTEMPTS, then marked failed.

The worker also runs the jobs registered at init_app before each round of sending:
work a request only records, to be decided after its answer (password reset).
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import func, select, update

from authapi import context, db
from authapi.db import utcnow
from authapi.mail import mail
from authapi.models import OutboxMail
from authapi.tokens import secretbox

log = logging.getLogger(__name__)
SEALED = "mail outbox"
QUEUED = "authapi_mail_queued"
LEASE = timedelta(seconds=120)  # a mail claimed by a sender that died is retried after this
PENDING = (OutboxMail.sent_at.is_(None), OutboxMail.failed_at.is_(None))
# Handles at most n pending items, each in its own transaction; returns how many it found.
Job = Callable[[int], int]


def compose(recipient: str, template: str, **context: Any) -> OutboxMail:
    """A rendered mail with its bodies sealed, not yet queued."""
    rendered = mail.render(template, **context)
    body = json.dumps({"text": rendered.text, "html": rendered.html})
    return OutboxMail(recipient=recipient, subject=rendered.subject,
                      body=secretbox.seal(body, SEALED), next_attempt_at=utcnow())


def queue(recipient: str, template: str, **context: Any) -> None:
    """Add a mail to the current transaction; it is sent only if the transaction commits."""
    db.orm().add(compose(recipient, template, **context))
    notify()


def notify() -> None:
    """Have this process's worker look for work once the request is over (and committed)."""
    setattr(g, QUEUED, True)


def backoff(attempts: int) -> float:
    """Seconds to wait after the n-th failed attempt: doubling from the base, capped."""
    config = current_app.config
    base, cap = float(config["AUTHAPI_MAIL_RETRY_BASE"]), float(config["AUTHAPI_MAIL_RETRY_MAX"])
    return float(min(base * 2 ** min(attempts - 1, 32), cap))


def drain(limit: int = 100) -> float | None:
    """Run the jobs, then try every due mail once; the seconds until the next one is due
    (None: none pending; 0 when a job left work for the next round).

    Runs outside any request and owns its transactions, like a CLI command.
    """
    backlog = [job(limit) >= limit for job in worker(current_app).jobs]
    session = db.orm()
    due = session.execute(select(OutboxMail.id, OutboxMail.attempts)
                          .where(*PENDING, OutboxMail.next_attempt_at <= utcnow())
                          .order_by(OutboxMail.id).limit(limit)).all()
    session.rollback()
    for mail_id, attempts in due:
        _attempt(mail_id, attempts)
    upcoming = session.scalar(select(func.min(OutboxMail.next_attempt_at)).where(*PENDING))
    session.rollback()
    if any(backlog):
        return 0.0
    return None if upcoming is None else max(0.0, (upcoming - utcnow()).total_seconds())


def _attempt(mail_id: int, attempts: int) -> None:
    session = db.orm()
    claimed = db.affected(
        update(OutboxMail).where(OutboxMail.id == mail_id, OutboxMail.attempts == attempts,
                                 *PENDING)
        .values(attempts=attempts + 1, next_attempt_at=utcnow() + LEASE))
    session.commit()
    row = session.get(OutboxMail, mail_id) if claimed else None
    if row is None:
        return  # another sender has it
    bodies = json.loads(secretbox.unseal(row.body, SEALED))
    try:
        mail.deliver(mail.message(row.recipient, mail.Rendered(row.subject, **bodies)))
    except mail.DELIVERY_ERRORS as exc:
        _failed(row, attempts + 1, exc)
    else:
        row.sent_at, row.body, row.last_error = utcnow(), "", None  # nothing sensitive kept
    session.commit()


def _failed(row: OutboxMail, attempts: int, exc: Exception) -> None:
    row.last_error = f"{type(exc).__name__}: {exc}"[:200]
    if attempts >= int(current_app.config["AUTHAPI_MAIL_MAX_ATTEMPTS"]):
        row.failed_at, row.body = utcnow(), ""
        log.error("mail %s to %s failed for good after %d attempts: %s", row.id, row.recipient,
                  attempts, row.last_error)
        return
    row.next_attempt_at = utcnow() + timedelta(seconds=backoff(attempts))
    log.warning("mail %s: attempt %d failed (%s); retrying", row.id, attempts, row.last_error)


class Worker:
    """The thread that drains the outbox for one app in one process."""

    def __init__(self, app: Flask, jobs: Sequence[Job] = ()) -> None:
        self.app = app
        self.jobs = tuple(jobs)
        self.wakeup = threading.Event()
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None
        self.pid = 0

    def wake(self) -> None:
        """Start the thread in this process if needed, and have it look for mail now."""
        with self.lock:
            if self.thread is None or not self.thread.is_alive() or self.pid != os.getpid():
                self.stopping.clear()
                self.pid = os.getpid()  # a forked child starts its own thread
                self.thread = threading.Thread(target=self._run, name="authapi-outbox",
                                               daemon=True)
                self.thread.start()
        self.wakeup.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the thread after its current attempt."""
        self.stopping.set()
        self.wakeup.set()
        if self.thread is not None and self.pid == os.getpid():
            self.thread.join(timeout)

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.wakeup.clear()
            self.wakeup.wait(self._drain_once())

    def _drain_once(self) -> float:
        poll = float(self.app.config["AUTHAPI_MAIL_POLL_INTERVAL"])
        try:
            with self.app.app_context():
                due = drain()
        except Exception:  # the database may be down: try again at the next poll
            log.exception("draining the mail outbox failed")
            return poll
        return poll if due is None else min(due, poll)


def worker(app: Flask) -> Worker:
    """The app's outbox worker."""
    return app.extensions["authapi.mail.outbox"]


def init_app(app: Flask, jobs: Sequence[Job] = ()) -> None:
    """After a request that queued mail or work, wake the worker (the view has committed by
    then); `jobs` run at each drain, before the mail is sent."""
    app.extensions["authapi.mail.outbox"] = Worker(app, jobs)

    @app.teardown_request
    def _wake(_exc: BaseException | None) -> None:
        if context.g().pop(QUEUED, False) and app.config["AUTHAPI_MAIL_WORKER"]:
            worker(app).wake()
