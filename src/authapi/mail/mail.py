"""Mail: render a template into a message, and deliver it to the console or an SMTP server."""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from functools import lru_cache
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app
from jinja2 import DictLoader, Environment, StrictUndefined

from authapi.mail.mail_templates import TEMPLATES
from authapi.ops import logs

# Failures worth a retry: the server refused, hung up, or could not be reached.
DELIVERY_ERRORS = (OSError, smtplib.SMTPException)
CONSOLE_LOGGER = "authapi.mail.console"


@dataclass(frozen=True)
class Rendered:
    """A mail's subject and bodies."""

    subject: str
    text: str
    html: str


@lru_cache(maxsize=1)
def _environments() -> tuple[Environment, Environment]:
    loader = DictLoader({f"{name}.{part}": source for name, parts in TEMPLATES.items()
                         for part, source in parts.items()})
    text = Environment(loader=loader, autoescape=False, undefined=StrictUndefined)  # noqa: S701
    html = Environment(loader=loader, autoescape=True, undefined=StrictUndefined)
    return text, html


def render(template: str, **context: Any) -> Rendered:
    """The subject, plain-text and HTML bodies of a template (HTML autoescaped)."""
    text, html = _environments()
    return Rendered(subject=text.get_template(f"{template}.subject").render(context).strip(),
                    text=text.get_template(f"{template}.text").render(context),
                    html=html.get_template(f"{template}.html").render(context))


def message(recipient: str, rendered: Rendered) -> EmailMessage:
    """A multipart/alternative message: the plain text first, the HTML as the alternative."""
    msg = EmailMessage()
    msg["From"] = str(current_app.config["AUTHAPI_MAIL_FROM"])
    msg["To"] = recipient
    msg["Subject"] = rendered.subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="authapi")
    msg.set_content(rendered.text)
    msg.add_alternative(rendered.html, subtype="html")
    return msg


def _console(msg: EmailMessage) -> None:
    """Development: the mail as one JSON line on standard error, whatever the log level.

    Its links are live: that is why production refuses this mailer (config.py). The
    line's logger is `authapi.mail.console`, so a log search can tell it from the rest.
    """
    plain = msg.get_body(("plain",))
    logs.write_line(CONSOLE_LOGGER, "mail", to=msg["To"], subject=msg["Subject"],
                    text=plain.get_content() if isinstance(plain, EmailMessage) else "")


def deliver(msg: EmailMessage) -> None:
    """Send one message by AUTHAPI_MAIL_URL; raises one of DELIVERY_ERRORS on failure."""
    config = current_app.config
    url = str(config["AUTHAPI_MAIL_URL"])
    if url == "console":
        _console(msg)
        return
    parts = urlsplit(url)
    timeout = float(config["AUTHAPI_MAIL_TIMEOUT"])
    host = parts.hostname or ""
    smtp: smtplib.SMTP
    if parts.scheme == "smtps":  # implicit TLS (RFC 8314)
        smtp = smtplib.SMTP_SSL(host, parts.port or 465, timeout=timeout,
                                context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, parts.port or 25, timeout=timeout)
    with smtp:
        if parts.username:
            smtp.login(unquote(parts.username), unquote(parts.password or ""))
        smtp.send_message(msg)
