"""Mail: the outbox, its worker, retries with back-off, and a real SMTP server on loopback."""

import ssl

import pytest
from sqlalchemy import select

from authapi import config, db
from authapi.mail import mail, outbox
from authapi.models import OutboxMail
from fixtures.smtp import free_port, html_of, text_of
from fixtures.tls import self_signed


def queue_one(app, recipient="ada@example.com"):
    with app.test_request_context():
        outbox.queue(recipient, "verify_email", email=recipient, link="http://x/?token=t",
                     hours=1)
        db.orm().commit()


def rows(app):
    with app.app_context():
        return list(db.orm().scalars(select(OutboxMail).order_by(OutboxMail.id)))


def drain(app):
    with app.app_context():
        return outbox.drain()


@pytest.mark.parametrize("url", ["http://mail.example.com", "smtp://", "smtp://h:99999",
                                 "smtps:///x", "mail"])
def test_a_bad_mail_url_is_refused_at_start(url):
    with pytest.raises(config.ConfigError, match="AUTHAPI_MAIL_URL"):
        config.resolve({"AUTHAPI_MAIL_URL": url})


@pytest.mark.parametrize("url", ["console", "smtp://127.0.0.1:2525", "smtps://u:p%40ss@h:465"])
def test_good_mail_urls_are_accepted(url):
    assert config.resolve({"AUTHAPI_MAIL_URL": url})["AUTHAPI_MAIL_URL"] == url


def test_html_bodies_escape_what_they_are_given(app):
    with app.app_context():
        rendered = mail.render("session_stolen", when="now", ip="10.0.0.1", opened="then",
                               user_agent="<script>alert(1)</script>", link="http://x")
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;" in rendered.html
    assert "<script>alert(1)</script>" in rendered.text


def test_a_queued_mail_arrives_with_plain_and_html_bodies(mail_app):
    app, inbox = mail_app()
    queue_one(app)
    outbox.worker(app).wake()
    message = inbox.next()
    assert message["To"] == "ada@example.com"
    assert message["Subject"] == "Confirm your email address"
    assert "http://x/?token=t" in text_of(message)
    assert 'href="http://x/?token=t"' in html_of(message)


def test_a_sent_mail_keeps_no_body(mail_app):
    app, inbox = mail_app()
    queue_one(app)
    outbox.worker(app).wake()
    inbox.next()
    outbox.worker(app).stop()
    (row,) = rows(app)
    assert row.sent_at is not None and row.attempts == 1 and row.body == ""


def test_a_pending_body_is_encrypted_at_rest(app):
    queue_one(app)
    (row,) = rows(app)
    assert "token=t" not in row.body and "ada@example.com" not in row.body


def test_a_mail_of_a_rolled_back_request_is_never_sent(app):
    with app.test_request_context():
        outbox.queue("ada@example.com", "verify_email", email="a", link="l", hours=1)
        db.orm().rollback()
    assert rows(app) == []


def test_a_server_refusing_the_first_tries_gets_the_mail_later(mail_app):
    app, inbox = mail_app(refuse=2)
    queue_one(app)
    outbox.worker(app).wake()
    assert inbox.next()["To"] == "ada@example.com"
    assert inbox.tries == 3
    outbox.worker(app).stop()
    (row,) = rows(app)
    assert row.attempts == 3 and row.sent_at is not None


def test_credentials_in_the_url_log_in_to_the_server(make_app, smtp_server):
    inbox, url = smtp_server(login=("mailer", "p@ss:word"))
    host = url.removeprefix("smtp://")
    app = make_app(AUTHAPI_MAIL_URL=f"smtp://mailer:p%40ss%3Aword@{host}")
    queue_one(app)
    assert drain(app) is None
    assert inbox.next()["To"] == "ada@example.com"


def test_wrong_credentials_are_a_failed_attempt(make_app, smtp_server):
    inbox, url = smtp_server(login=("mailer", "secret"))
    app = make_app(AUTHAPI_MAIL_URL=url.replace("smtp://", "smtp://mailer:wrong@"))
    queue_one(app)
    drain(app)
    assert rows(app)[0].last_error.startswith("SMTPAuthenticationError")
    assert inbox.empty()


def test_smtps_sends_over_tls_with_credentials(make_app, smtp_server, tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the client's trust store, not authapi's
    inbox, url = smtp_server(login=("mailer", "secret"), tls=context)
    app = make_app(AUTHAPI_MAIL_URL=url.replace("smtps://", "smtps://mailer:secret@"))
    queue_one(app)
    assert drain(app) is None
    assert inbox.next()["To"] == "ada@example.com"


def test_smtps_refuses_an_untrusted_certificate(make_app, smtp_server, tmp_path):
    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    inbox, url = smtp_server(tls=context)
    app = make_app(AUTHAPI_MAIL_URL=url)
    queue_one(app)
    drain(app)
    assert "CERTIFICATE_VERIFY_FAILED" in rows(app)[0].last_error
    assert inbox.empty()


def test_a_server_that_is_down_leaves_the_mail_pending_with_its_error(make_app):
    app = make_app(AUTHAPI_MAIL_URL=f"smtp://127.0.0.1:{free_port()}")
    queue_one(app)
    assert drain(app) == pytest.approx(2.0, abs=0.5)  # the first back-off step
    (row,) = rows(app)
    assert row.sent_at is None and row.failed_at is None and row.attempts == 1
    assert row.last_error.startswith("ConnectionRefusedError")


def test_a_mail_is_given_up_after_the_last_attempt(make_app):
    app = make_app(AUTHAPI_MAIL_URL=f"smtp://127.0.0.1:{free_port()}",
                   AUTHAPI_MAIL_MAX_ATTEMPTS=2, AUTHAPI_MAIL_RETRY_BASE=0)
    queue_one(app)
    drain(app)
    assert drain(app) is None  # nothing pending any more
    (row,) = rows(app)
    assert row.attempts == 2 and row.failed_at is not None and row.body == ""


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 2), (2, 4), (3, 8), (10, 900), (99, 900)])
def test_the_back_off_doubles_and_is_capped(app, attempts, seconds):
    with app.app_context():
        assert outbox.backoff(attempts) == seconds


def test_a_mail_claimed_by_another_sender_is_not_sent_twice(make_app):
    app = make_app(AUTHAPI_MAIL_URL=f"smtp://127.0.0.1:{free_port()}")
    queue_one(app)
    with app.app_context():
        outbox.drain()
        (row,) = rows(app)
        assert row.attempts == 1
        outbox._attempt(row.id, 0)  # a stale claim of attempt 0: someone else has it
    assert rows(app)[0].attempts == 1


def test_console_mail_is_written_to_stderr_and_marked_sent(app, capsys):
    queue_one(app)
    assert drain(app) is None
    assert "http://x/?token=t" in capsys.readouterr().err
    assert rows(app)[0].sent_at is not None
