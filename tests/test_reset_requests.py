"""Reset requests after the answer: the outbox worker decides who gets a link, once per request."""

import threading

from sqlalchemy import func, select

from authapi import db
from authapi.accounts import recovery
from authapi.mail import outbox
from authapi.models import AuditEvent, LinkToken, OutboxMail, ResetRequest
from fixtures.smtp import token_of

NEW_PASSWORD = "a brand new passphrase 42"


def ask(client, email="ada@example.com", **headers):
    assert client.post("/auth/password-reset", json={"email": email},
                       headers=headers).status_code == 202


def drain(app):
    with app.app_context():
        outbox.drain()


def count(app, model):
    with app.app_context():
        return db.orm().scalar(select(func.count()).select_from(model))


def reset_audits(app):
    with app.app_context():
        return [(e.user_id, e.detail, e.ip, e.user_agent) for e in db.orm().scalars(
            select(AuditEvent).where(AuditEvent.event == "password_reset_requested")
            .order_by(AuditEvent.id))]


def test_the_request_only_records_the_normalised_address(app, client, make_user):
    make_user(email="ada@example.com")
    ask(client, "ADA@Example.com")
    with app.app_context():
        (row,) = db.orm().scalars(select(ResetRequest)).all()
    assert (row.email, row.handled_at) == ("ada@example.com", None)
    assert count(app, LinkToken) == count(app, OutboxMail) == 0


def test_an_address_that_nfkc_lengthens_past_320_is_422_and_nothing_is_recorded(app, client):
    # 312 characters in, 5,412 once normalised: the contract's limit counts the stored form.
    response = client.post("/auth/password-reset", json={"email": "\ufdfa" * 300 + "@x.com"})
    assert response.status_code == 422, response.get_json()
    drain(app)
    assert count(app, ResetRequest) == count(app, OutboxMail) == 0


def test_reset_requests_are_limited_per_address(make_app):
    client = make_app(AUTHAPI_RESET_RATE_PER_ADDRESS="3 per hour").test_client()
    for n in range(3):
        ask(client, f"someone{n}@example.com")
    response = client.post("/auth/password-reset", json={"email": "fourth@example.com"})
    assert response.status_code == 429, response.get_json()
    assert response.get_json()["code"] == "rate_limited"
    assert int(response.headers["Retry-After"]) > 0


def test_the_worker_mails_a_known_address_a_working_link(mail_app, make_user):
    app, inbox = mail_app()
    make_user(email="ada@example.com")
    client = app.test_client()
    ask(client)
    message = inbox.next()
    assert message["To"] == "ada@example.com"
    confirm = {"token": token_of(message), "new_password": NEW_PASSWORD}
    assert client.post("/auth/password-reset/confirm", json=confirm).status_code == 204


def test_through_smtp_a_disabled_account_gets_no_mail(mail_app, make_user):
    app, inbox = mail_app()
    make_user(email="off@example.com", disabled=True)
    make_user(email="ada@example.com")
    client = app.test_client()
    ask(client, "off@example.com")
    ask(client)  # handled after the first: once its mail is here, the first was decided
    assert inbox.next()["To"] == "ada@example.com"
    outbox.worker(app).stop()
    drain(app)
    assert inbox.empty()


def test_through_smtp_a_sixth_request_in_an_hour_gets_no_mail(mail_app, make_user):
    app, inbox = mail_app()
    make_user(email="ada@example.com")
    make_user(email="bob@example.com")
    client = app.test_client()
    for _ in range(6):
        ask(client)
    ask(client, "bob@example.com")
    received = sorted(inbox.next()["To"] for _ in range(6))
    assert received == ["ada@example.com"] * 5 + ["bob@example.com"]
    outbox.worker(app).stop()
    drain(app)
    assert inbox.empty()


def test_each_request_is_audited_with_its_outcome_and_origin(app, client, make_user):
    ada = make_user(email="ada@example.com")
    ask(client, "ada@example.com", **{"User-Agent": "probe/1"})
    ask(client, "nobody@example.com", **{"User-Agent": "probe/2"})
    assert reset_audits(app) == []  # decided by the worker, not in the request
    drain(app)
    assert reset_audits(app) == [(ada, {"sent": True}, "127.0.0.1", "probe/1"),
                                 (None, {"sent": False}, "127.0.0.1", "probe/2")]


def test_a_throttled_request_is_audited_as_not_sent(app, client, make_user):
    ada = make_user(email="ada@example.com")
    for _ in range(6):
        ask(client)
    drain(app)
    assert [detail["sent"] for user_id, detail, *_ in reset_audits(app)
            if user_id == ada] == [True] * 5 + [False]


def test_a_request_handled_by_another_worker_is_not_handled_twice(app, client, make_user):
    make_user(email="ada@example.com")
    ask(client)
    drain(app)
    with app.app_context():
        (request_id,) = db.orm().scalars(select(ResetRequest.id)).all()
        recovery.handle_request(request_id)  # a stale claim: the request is done
    assert count(app, LinkToken) == count(app, OutboxMail) == 1
    assert len(reset_audits(app)) == 1


def test_concurrent_drains_handle_each_request_once(app, client, make_user):
    emails = [f"user{n}@example.com" for n in range(4)]
    for email in emails:
        make_user(email=email)
        ask(client, email)
    start = threading.Barrier(3)

    def worker():
        start.wait()
        drain(app)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert count(app, LinkToken) == count(app, OutboxMail) == len(emails)
    assert len(reset_audits(app)) == len(emails)
    with app.app_context():
        assert db.orm().scalar(select(func.count()).select_from(ResetRequest)
                                .where(ResetRequest.handled_at.is_(None))) == 0
