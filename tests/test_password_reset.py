"""POST /auth/password-reset and /confirm, end to end through a real SMTP server."""

import pytest
from sqlalchemy import select

from authapi import db, outbox
from authapi.models import AuditEvent, LinkToken, OutboxMail
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
        assert db.orm().scalars(select(OutboxMail)).all() == []


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
        assert len(db.orm().scalars(select(OutboxMail)).all()) == 5


def test_through_smtp_only_the_known_email_gets_a_mail(mail_app, make_user):
    app, inbox = mail_app()
    make_user(email="ada@example.com")
    client = app.test_client()
    assert ask(client, "nobody@example.com").status_code == 202
    assert ask(client).status_code == 202
    assert inbox.next()["To"] == "ada@example.com"
    outbox.worker(app).stop()
    assert inbox.empty()
