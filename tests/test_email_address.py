"""Email verification and change of address, end to end through a real SMTP server.

POST /auth/email {new_email, password} and POST /auth/email/confirm {token} extend the
contract: the new address gets a link, the old one a notice, and the old address stays
until the link is opened.
"""

from sqlalchemy import select

from authapi import db
from authapi.models import AuditEvent
from conftest import PASSWORD, assert_problem, bearer
from fixtures.smtp import text_of, token_of


def register(client, email="ada@example.com"):
    response = client.post("/auth/register", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201
    return response.get_json()


def login(client, email="ada@example.com"):
    return client.post("/auth/login", json={"email": email, "password": PASSWORD})


def me(client, token):
    return client.get("/auth/me", headers=bearer(token)).get_json()


def events(app):
    with app.app_context():
        return [e.event for e in db.orm().scalars(select(AuditEvent).order_by(AuditEvent.id))]


def test_registering_mails_a_verification_link(mail_app):
    app, inbox = mail_app()
    register(app.test_client())
    message = inbox.next()
    assert message["To"] == "ada@example.com"
    assert "/verify-email?token=" in text_of(message)


def test_the_link_verifies_the_address(mail_app):
    app, inbox = mail_app()
    client = app.test_client()
    register(client)
    token = login(client).get_json()["access_token"]
    assert me(client, token)["email_verified"] is False
    assert client.post("/auth/verify-email/confirm",
                       json={"token": token_of(inbox.next())}).status_code == 204
    assert me(client, token)["email_verified"] is True
    assert "email_verified" in events(app)


def test_verify_email_resends_a_link_to_the_caller(mail_app, make_user, login):
    app, inbox = mail_app()
    tokens = login(make_user(email="bob@example.com"))
    response = app.test_client().post("/auth/verify-email", headers=bearer(tokens["access_token"]))
    assert response.status_code == 202
    assert inbox.next()["To"] == "bob@example.com"


def test_verify_email_needs_an_access_token(client):
    assert_problem(client.post("/auth/verify-email"), 401, "token_missing")


def test_a_verification_link_works_once(mail_app):
    app, inbox = mail_app()
    client = app.test_client()
    register(client)
    token = token_of(inbox.next())
    client.post("/auth/verify-email/confirm", json={"token": token})
    assert_problem(client.post("/auth/verify-email/confirm", json={"token": token}), 400,
                   "link_invalid")


def test_an_expired_verification_link_is_refused(mail_app):
    app, inbox = mail_app(AUTHAPI_VERIFY_EMAIL_TTL=-1)
    client = app.test_client()
    register(client)
    assert_problem(client.post("/auth/verify-email/confirm",
                               json={"token": token_of(inbox.next())}), 400, "link_invalid")


def test_a_reset_token_does_not_verify_an_address(mail_app, make_user):
    app, inbox = mail_app()
    make_user(email="ada@example.com")
    client = app.test_client()
    client.post("/auth/password-reset", json={"email": "ada@example.com"})
    assert_problem(client.post("/auth/verify-email/confirm",
                               json={"token": token_of(inbox.next())}), 400, "link_invalid")


def test_required_verification_refuses_login_until_verified(mail_app):
    app, inbox = mail_app(AUTHAPI_REQUIRE_VERIFIED_EMAIL=True)
    client = app.test_client()
    register(client)
    assert_problem(login(client), 403, "email_unverified")
    client.post("/auth/verify-email/confirm", json={"token": token_of(inbox.next())})
    assert login(client).status_code == 200


def test_required_verification_still_says_nothing_for_a_wrong_password(make_app, make_user):
    client = make_app(AUTHAPI_REQUIRE_VERIFIED_EMAIL=True).test_client()
    make_user(email="ada@example.com")
    response = client.post("/auth/login", json={"email": "ada@example.com", "password": "nope"})
    assert_problem(response, 401, "invalid_credentials")


def change(client, access, new_email="new@example.com", password=PASSWORD):
    return client.post("/auth/email", json={"new_email": new_email, "password": password},
                       headers=bearer(access))


def test_a_change_mails_a_link_to_the_new_address_and_a_notice_to_the_old(mail_app, make_user,
                                                                           login):
    app, inbox = mail_app()
    access = login(make_user(email="ada@example.com"))["access_token"]
    assert change(app.test_client(), access).status_code == 202
    mails = {m["To"]: m for m in (inbox.next(), inbox.next())}
    assert "/confirm-email?token=" in text_of(mails["new@example.com"])
    assert "new@example.com" in text_of(mails["ada@example.com"])
    assert "token=" not in text_of(mails["ada@example.com"])


def test_the_old_address_stays_until_the_link_is_opened(mail_app, make_user, login):
    app, inbox = mail_app()
    client = app.test_client()
    access = login(make_user(email="ada@example.com"))["access_token"]
    change(client, access)
    link = next(m for m in (inbox.next(), inbox.next()) if m["To"] == "new@example.com")
    assert me(client, access)["email"] == "ada@example.com"
    assert client.post("/auth/email/confirm", json={"token": token_of(link)}).status_code == 204
    assert me(client, access)["email"] == "new@example.com"
    assert me(client, access)["email_verified"] is True
    assert client.post("/auth/login", json={"email": "new@example.com",
                                            "password": PASSWORD}).status_code == 200
    assert_problem(client.post("/auth/login", json={"email": "ada@example.com",
                                                    "password": PASSWORD}), 401,
                   "invalid_credentials")
    assert inbox.next()["Subject"] == "Your email address was changed"
    assert "email_changed" in events(app)


def test_a_change_needs_the_password(client, make_user, login):
    access = login(make_user(email="ada@example.com"))["access_token"]
    assert_problem(change(client, access, password="wrong password"), 401, "invalid_credentials")


def test_a_change_to_a_taken_address_is_a_conflict(client, make_user, login):
    make_user(email="new@example.com")
    access = login(make_user(email="ada@example.com"))["access_token"]
    assert_problem(change(client, access, new_email="NEW@example.com"), 409, "email_taken")


def test_an_expired_change_link_is_refused(mail_app, make_user, login):
    app, inbox = mail_app(AUTHAPI_EMAIL_CHANGE_TTL=-1)
    client = app.test_client()
    change(client, login(make_user(email="ada@example.com"))["access_token"])
    link = next(m for m in (inbox.next(), inbox.next()) if m["To"] == "new@example.com")
    assert_problem(client.post("/auth/email/confirm", json={"token": token_of(link)}), 400,
                   "link_invalid")


def test_a_login_refused_as_unverified_mails_a_fresh_link(mail_app, make_user):
    app, inbox = mail_app(AUTHAPI_REQUIRE_VERIFIED_EMAIL=True)
    make_user(email="ada@example.com")
    client = app.test_client()
    assert_problem(login(client), 403, "email_unverified")
    client.post("/auth/verify-email/confirm", json={"token": token_of(inbox.next())})
    assert login(client).status_code == 200


def test_at_most_five_changes_an_hour_are_mailed(client, make_user, login):
    access = login(make_user(email="ada@example.com"))["access_token"]
    for number in range(5):
        assert change(client, access, new_email=f"new{number}@example.com").status_code == 202
    response = change(client, access)
    assert_problem(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "3600"
