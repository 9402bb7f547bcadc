"""Reuse detection mails the owner: when, from where, signed out, a link; never a token."""

from sqlalchemy import select

from authapi import db
from authapi.models import OutboxMail
from conftest import PASSWORD, assert_problem, bearer
from fixtures.smtp import html_of, text_of

AGENT = "Mallory/1.0 (stolen)"


def replay(mail_app, make_user, **overrides):
    """Log in, refresh once, then present the used refresh token again from another agent."""
    app, inbox = mail_app(**overrides)
    client = app.test_client()
    make_user(email="ada@example.com")
    first = client.post("/auth/login", json={"email": "ada@example.com",
                                             "password": PASSWORD}).get_json()
    second = client.post("/auth/refresh", headers=bearer(first["refresh_token"])).get_json()
    response = client.post("/auth/refresh", headers={**bearer(first["refresh_token"]),
                                                     "User-Agent": AGENT},
                           environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert_problem(response, 401, "token_reused")
    return app, inbox, [first, second]


def test_reuse_mails_the_owner_when_and_from_where(mail_app, make_user):
    _, inbox, _ = replay(mail_app, make_user)
    message = inbox.next()
    assert message["To"] == "ada@example.com"
    for body in (text_of(message), html_of(message)):
        assert "203.0.113.9" in body and "Mallory/1.0 (stolen)" in body
        assert "signed that session out" in body and " UTC" in body


def test_the_notice_links_to_the_password_page(mail_app, make_user):
    _, inbox, _ = replay(mail_app, make_user, AUTHAPI_FRONTEND_URL="https://app.example.com")
    message = inbox.next()
    assert "https://app.example.com/account/password" in text_of(message)
    assert 'href="https://app.example.com/account/password"' in html_of(message)


def test_the_notice_carries_no_token(mail_app, make_user):
    _, inbox, pairs = replay(mail_app, make_user)
    raw = inbox.next().as_string()
    assert "token=" not in raw
    for pair in pairs:
        for token in (pair["access_token"], pair["refresh_token"]):
            assert token not in raw and token.split(".")[2][:20] not in raw


def test_a_second_replay_sends_no_second_notice(app, client, make_user, login):
    make_user(email="ada@example.com")
    first = login("ada@example.com")
    client.post("/auth/refresh", headers=bearer(first["refresh_token"]))
    for _ in range(2):
        client.post("/auth/refresh", headers=bearer(first["refresh_token"]))
    with app.app_context():
        subjects = list(db.orm().scalars(select(OutboxMail.subject)))
    assert len([s for s in subjects if "signed you out" in s]) == 1
