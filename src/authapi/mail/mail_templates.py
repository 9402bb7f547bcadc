"""The mails authapi sends: a subject, a plain-text body and an HTML body each (Jinja).

HTML bodies are autoescaped. No template ever receives a token other than the one
its link is for, and the theft notice receives none.
"""

from __future__ import annotations

FOOTER_TEXT = "\n--\nSent by authapi. If you did not expect this mail, you can ignore it.\n"
FOOTER_HTML = "<p style=\"color:#666\">Sent by authapi. If you did not expect this mail, " \
              "you can ignore it.</p>"


def _html(body: str) -> str:
    return f"<!doctype html>\n<html><body>\n{body}\n{FOOTER_HTML}\n</body></html>\n"


TEMPLATES: dict[str, dict[str, str]] = {
    "account_changed": {
        "subject": "{{ subject }}",
        "text": "{{ what }} on your account {{ email }}, at {{ when }}, from address {{ ip }} "
                "with user agent \"{{ user_agent }}\".\n"
                "{% for line in undone %}\n{{ line }}{% endfor %}"
                "{% if undone %}\n{% endif %}"
                "\nIf this was not you, reset your password now: {{ link }}\n"
                "A reset signs every session out and undoes a passkey or TOTP added in the "
                "hour before it." + FOOTER_TEXT,
        "html": _html("<p>{{ what }} on your account {{ email }}, at {{ when }}, from "
                      "address {{ ip }} with user agent \"{{ user_agent }}\".</p>\n"
                      "{% for line in undone %}<p>{{ line }}</p>\n{% endfor %}"
                      "<p>If this was not you, <a href=\"{{ link }}\">reset your password "
                      "now</a>. A reset signs every session out and undoes a passkey or TOTP "
                      "added in the hour before it.</p>"),
    },
    "oidc_link_refused": {
        "subject": "A sign-in with {{ provider }} was not linked to your account",
        "text": "Someone signed in with {{ provider }} as {{ email }}. An account with this "
                "address exists, but {{ reason }}, so the sign-in was not linked to it and "
                "nobody was signed in.\n\nIf it was you: sign in with your password, "
                "confirm your address, then sign in with {{ provider }} again.\n"
                "If you never created this account, someone else may have: take it over "
                "by resetting its password:\n{{ link }}" + FOOTER_TEXT,
        "html": _html("<p>Someone signed in with {{ provider }} as {{ email }}. An account "
                      "with this address exists, but {{ reason }}, so the sign-in was not "
                      "linked to it and nobody was signed in.</p>\n"
                      "<p>If it was you: sign in with your password, confirm your address, "
                      "then sign in with {{ provider }} again.</p>\n"
                      "<p>If you never created this account, someone else may have: "
                      "<a href=\"{{ link }}\">reset its password</a> to take it over.</p>"),
    },
    "password_reset": {
        "subject": "Reset your password",
        "text": "Someone asked to reset the password of {{ email }}.\n\n"
                "To choose a new password, open this link within {{ hours }} hour(s):\n"
                "{{ link }}\n\nIt works once. If you did not ask for it, nothing changes."
                + FOOTER_TEXT,
        "html": _html("<p>Someone asked to reset the password of {{ email }}.</p>\n"
                      "<p><a href=\"{{ link }}\">Choose a new password</a> "
                      "(valid for {{ hours }} hour(s), once).</p>\n"
                      "<p>If you did not ask for it, nothing changes.</p>"),
    },
    "verify_email": {
        "subject": "Confirm your email address",
        "text": "Please confirm that {{ email }} is your address by opening this link "
                "within {{ hours }} hour(s):\n{{ link }}" + FOOTER_TEXT,
        "html": _html("<p>Please confirm that {{ email }} is your address.</p>\n"
                      "<p><a href=\"{{ link }}\">Confirm my address</a> "
                      "(valid for {{ hours }} hour(s)).</p>"),
    },
    "email_change": {
        "subject": "Confirm your new email address",
        "text": "Someone asked to change the address of an account from {{ old_email }} "
                "to {{ email }}.\n\nTo confirm, open this link within {{ hours }} hour(s):\n"
                "{{ link }}\n\nUntil then the old address stays." + FOOTER_TEXT,
        "html": _html("<p>Someone asked to change the address of an account from "
                      "{{ old_email }} to {{ email }}.</p>\n"
                      "<p><a href=\"{{ link }}\">Confirm the new address</a> "
                      "(valid for {{ hours }} hour(s)). Until then the old address stays.</p>"),
    },
    "email_change_notice": {
        "subject": "{{ 'Your email address was changed' if done else "
                   "'A change of your email address was requested' }}",
        "text": "{% if done %}The address of your account was changed from {{ email }} to "
                "{{ new_email }}.{% else %}Someone asked to change the address of your account "
                "from {{ email }} to {{ new_email }}. It changes only when the link sent to "
                "the new address is opened.{% endif %}\n\nIf this was not you, change your "
                "password now: {{ link }}" + FOOTER_TEXT,
        "html": _html("<p>{% if done %}The address of your account was changed from "
                      "{{ email }} to {{ new_email }}.{% else %}Someone asked to change the "
                      "address of your account from {{ email }} to {{ new_email }}. It changes "
                      "only when the link sent to the new address is opened.{% endif %}</p>\n"
                      "<p>If this was not you, <a href=\"{{ link }}\">change your password "
                      "now</a>.</p>"),
    },
    "session_stolen": {
        "subject": "We signed you out of a session: a used sign-in token came back",
        "text": "At {{ when }} a refresh token of one of your sessions was presented a second "
                "time, from address {{ ip }} with user agent \"{{ user_agent }}\". A token "
                "is used only once, so someone may have copied it.\n\n"
                "We signed that session out (it was opened at {{ opened }}). "
                "Sign in again on your devices where needed.\n\n"
                "If you think someone else has your password, change it now: {{ link }}"
                + FOOTER_TEXT,
        "html": _html("<p>At {{ when }} a refresh token of one of your sessions was presented "
                      "a second time, from address <b>{{ ip }}</b> with user agent "
                      "<b>{{ user_agent }}</b>. A token is used only once, so someone may have "
                      "copied it.</p>\n<p>We signed that session out (it was opened at "
                      "{{ opened }}). Sign in again on your devices where needed.</p>\n"
                      "<p>If you think someone else has your password, "
                      "<a href=\"{{ link }}\">change it now</a>.</p>"),
    },
}
