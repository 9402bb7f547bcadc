"""POST /auth/password-reset and /confirm, end to end through a real SMTP server."""

import statistics
import time

import pytest
from sqlalchemy import event, select

from authapi import db
from authapi.mail import outbox
from authapi.models import AuditEvent, LinkToken, OutboxMail, User
from conftest import PASSWORD, assert_problem, bearer
from fixtures.smtp import free_port, html_of, text_of, token_of

NEW_PASSWORD = "a brand new passphrase 42"


def ask(client, email="ada@example.com"):
    return client.post("/auth/password-reset", json={"email": email})


def confirm(client, token, password=NEW_PASSWORD):
    return client.post("/auth/password-reset/confirm",
                       json={"token": token, "new_password": password})


def login(client, password, email="ada@example.com"):
    return client.post("/auth/login", json={"email": email, "password": password})


def reset_token(mail_app, make_user, **overrides):
    app, inbox = mail_app(**overrides)
    make_user(email="ada@example.com")
    assert ask(app.test_client()).status_code == 202
    return app, inbox, token_of(inbox.next())


def test_a_reset_from_the_mail_sets_the_new_password(mail_app, make_user):
    app, _, token = reset_token(mail_app, make_user)
    client = app.test_client()
    assert confirm(client, token).status_code == 204
    assert login(client, NEW_PASSWORD).status_code == 200
    assert_problem(login(client, PASSWORD), 401, "invalid_credentials")


def test_the_reset_mail_links_to_the_frontend(mail_app, make_user):
    app, inbox = mail_app(AUTHAPI_FRONTEND_URL="https://app.example.com")
    make_user(email="ada@example.com")
    ask(app.test_client())
    message = inbox.next()
    assert message["To"] == "ada@example.com"
    assert "https://app.example.com/reset-password?token=" in text_of(message)
    assert 'href="https://app.example.com/reset-password?token=' in html_of(message)


def test_unknown_and_known_emails_get_the_same_answer(client, make_user):
    make_user(email="ada@example.com")
    known, unknown = ask(client), ask(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.get_json() == unknown.get_json()
    assert known.headers.get("Content-Type") == unknown.headers.get("Content-Type")


def test_an_unknown_email_queues_no_mail(app, client):
    assert ask(client, "nobody@example.com").status_code == 202
    with app.app_context():
        outbox.drain()  # the worker, which decides, is off in this app
        assert db.orm().scalars(select(OutboxMail)).all() == []
        assert db.orm().scalars(select(LinkToken)).all() == []


def statements(app, client, email):
    """Every SQL statement (text and number of parameters) the request for `email` runs."""
    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, len(parameters or ())))

    engines = [app.extensions["authapi.engine"], app.extensions["authapi.read_engine"]]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", capture)
    try:
        assert ask(client, email).status_code == 202
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", capture)
    return seen


def test_the_request_runs_the_same_statements_for_known_and_unknown_emails(client, app,
                                                                           make_user):
    make_user(email="ada@example.com")
    ask(client, "warm-up@example.com")
    known = statements(app, client, "ada@example.com")
    unknown = statements(app, client, "nobody@example.com")
    assert known == unknown
    assert any(statement.startswith("INSERT") for statement, _ in known)


def test_both_answers_wake_the_worker_once(make_app, make_user, monkeypatch):
    app = make_app(AUTHAPI_MAIL_WORKER=True)
    wakes = []
    monkeypatch.setattr(outbox.worker(app), "wake", lambda: wakes.append(1))
    make_user(email="ada@example.com")
    client = app.test_client()
    ask(client, "nobody@example.com")
    assert len(wakes) == 1
    ask(client)
    assert len(wakes) == 2


def test_known_and_unknown_emails_take_the_same_time(make_app):
    # The proof is the statements test above; this one catches work that runs no SQL
    # (a hash, a rendered mail). Each pair is timed back to back, in alternating order,
    # in CPU time of this thread (the test client runs the request in it), so neither
    # drift nor a busy machine's preemption counts. Each known email is its own
    # account: the hourly throttle never applies, nor the per-address limit.
    app = make_app(AUTHAPI_RESET_RATE_PER_ADDRESS="100000 per hour")
    client = app.test_client()
    with app.app_context():  # no password: the reset path reads only the email
        db.orm().add_all(User(email=f"known{n}@example.com") for n in range(100))
        db.orm().commit()
    ask(client, "warm-up@example.com")
    ratios = []
    for n in range(100):
        known, unknown = f"known{n}@example.com", f"nobody{n}@example.com"
        took = {}
        for email in (known, unknown) if n % 2 else (unknown, known):
            start = time.thread_time()
            assert ask(client, email).status_code == 202
            took[email] = time.thread_time() - start
        ratios.append(took[unknown] / took[known])
    assert 0.85 < statistics.median(ratios) < 1.18, statistics.median(ratios)


def test_the_answer_never_waits_on_a_server_that_is_down(make_app, make_user):
    app = make_app(AUTHAPI_MAIL_URL=f"smtp://127.0.0.1:{free_port()}", AUTHAPI_MAIL_WORKER=True)
    make_user(email="ada@example.com")
    assert ask(app.test_client()).status_code == 202


def test_a_reset_revokes_every_session(mail_app, make_user):
    app, _, token = reset_token(mail_app, make_user)
    client = app.test_client()
    pair = login(client, PASSWORD).get_json()
    confirm(client, token)
    assert_problem(client.get("/auth/me", headers=bearer(pair["access_token"])), 401,
                   "token_revoked")
    assert_problem(client.post("/auth/refresh", headers=bearer(pair["refresh_token"])), 401,
                   "token_revoked")


def test_a_reset_token_works_once(mail_app, make_user):
    app, _, token = reset_token(mail_app, make_user)
    client = app.test_client()
    assert confirm(client, token).status_code == 204
    assert_problem(confirm(client, token, "yet another passphrase 7"), 400, "link_invalid")


def test_an_expired_reset_token_is_refused(mail_app, make_user):
    app, _, token = reset_token(mail_app, make_user, AUTHAPI_PASSWORD_RESET_TTL=-1)
    assert_problem(confirm(app.test_client(), token), 400, "link_invalid")


def test_a_newer_reset_voids_the_older_link_when_used(mail_app, make_user):
    app, inbox, first = reset_token(mail_app, make_user)
    client = app.test_client()
    ask(client)
    second = token_of(inbox.next())
    assert confirm(client, second).status_code == 204
    assert_problem(confirm(client, first), 400, "link_invalid")


@pytest.mark.parametrize("token", ["", "x", "A" * 43, "A" * 129])
def test_a_forged_token_is_refused(client, token):
    response = confirm(client, token)
    assert response.status_code in (400, 422)
    assert response.get_json()["code"] in ("link_invalid", "validation_error")


def test_a_weak_password_is_refused_and_the_token_survives(mail_app, make_user):
    app, _, token = reset_token(mail_app, make_user)
    client = app.test_client()
    assert_problem(confirm(client, token, "password"), 422, "weak_password")
    assert confirm(client, token).status_code == 204


def test_only_a_hash_of_the_token_is_stored(mail_app, make_user):
    app, _, token = reset_token(mail_app, make_user)
    with app.app_context():
        (row,) = db.orm().scalars(select(LinkToken)).all()
        outbox_bodies = [m.body for m in db.orm().scalars(select(OutboxMail))]
    assert row.token_hash != token and len(row.token_hash) == 64
    assert all(token not in body for body in outbox_bodies)


def test_a_reset_is_audited(mail_app, make_user):
    app, _, token = reset_token(mail_app, make_user)
    confirm(app.test_client(), token)
    with app.app_context():
        events = [e.event for e in db.orm().scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert events[-2:] == ["password_reset_requested", "password_reset"]


def test_a_link_sent_before_a_change_of_address_is_refused(mail_app, make_user):
    app, _, token = reset_token(mail_app, make_user)
    with app.app_context():
        db.orm().execute(LinkToken.__table__.update().values(email="old@example.com"))
        db.orm().commit()
    assert_problem(confirm(app.test_client(), token), 400, "link_invalid")


def test_at_most_five_reset_mails_an_hour_reach_one_account(app, client, make_user):
    make_user(email="ada@example.com")
    for _ in range(7):
        assert ask(client).status_code == 202
    with app.app_context():
        outbox.drain()
        assert len(db.orm().scalars(select(OutboxMail)).all()) == 5
        assert len(db.orm().scalars(select(LinkToken)).all()) == 5


def test_through_smtp_only_the_known_email_gets_a_mail(mail_app, make_user):
    app, inbox = mail_app()
    make_user(email="ada@example.com")
    client = app.test_client()
    assert ask(client, "nobody@example.com").status_code == 202
    assert ask(client).status_code == 202
    assert inbox.next()["To"] == "ada@example.com"
    outbox.worker(app).stop()
    assert inbox.empty()
