"""The form-encoded /oauth/* endpoints of services: a client_id that no database can
store as text (a lone surrogate, or on PostgreSQL a NUL) is `invalid_client`, never a
500; a database outage is a 503 in RFC 6749 §5.2 form with `Retry-After` on each of
/oauth/token, /oauth/introspect and /oauth/revoke; and `error_description` keeps to the
characters RFC 6749 §5.2 allows, whatever parameter name it echoes.

The outage cases stop a private PostgreSQL (tests/fixtures/private_servers.py), never the
shared one; the NUL cases run on the suite's PostgreSQL (AUTHAPI_TEST_DATABASE_URL).
The cases came from the review of 2026-12-05 (second session).
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from typing import Any

import pytest

from fixtures.databases import PG_URL
from fixtures.oauth import ASSERTION_TYPE, assert_oauth_error, basic
from fixtures.private_servers import PG_BINS, PrivatePostgres

OAUTH_FORMS = ["/oauth/token", "/oauth/introspect", "/oauth/revoke"]
# RFC 6749 §5.2: error_description = 1*( %x20-21 / %x23-5B / %x5D-7E )
NQSCHAR = re.compile(r"^[\x20\x21\x23-\x5b\x5d-\x7e]+$")

needs_postgresql = pytest.mark.skipif(
    not PG_URL, reason="PostgreSQL only (it refuses NUL in text): set AUTHAPI_TEST_DATABASE_URL")
needs_private_postgresql = pytest.mark.skipif(not PG_BINS,
                                              reason="no PostgreSQL server binaries")


def segment(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def assertion_naming(iss: str) -> str:
    """An ES256-headed client assertion whose iss and sub are `iss`, with a signature of
    no key: refused as invalid_client before any key is needed, if the client look-up
    survives the name."""
    now = int(time.time())
    head = segment({"alg": "ES256", "kid": "k1", "typ": "JWT"})
    body = segment({"iss": iss, "sub": iss, "aud": "http://localhost:8000/oauth/token",
                    "iat": now, "exp": now + 60, "jti": str(uuid.uuid4())})
    return f"{head}.{body}.{base64.urlsafe_b64encode(b'x' * 64).rstrip(b'=').decode()}"


# --- a client_id that is no storable text -------------------------------------------------

@pytest.mark.parametrize("path", OAUTH_FORMS)
def test_an_assertion_whose_iss_is_a_lone_surrogate_is_invalid_client_not_500(client, path):
    """API.md Conventions: "No input, however malformed, produces a 5xx." The assertion's
    `iss` (JSON "\\ud800") went unchecked into the client look-up's SELECT, which sqlite3
    (and psycopg) cannot encode: UnicodeEncodeError, answered 500."""
    response = client.post(path, data={
        "grant_type": "client_credentials", "token": "x",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion_naming("\ud800")})
    assert response.status_code == 401, (response.status_code, response.get_data(as_text=True))
    assert response.get_json()["error"] == "invalid_client"


@needs_postgresql
@pytest.mark.parametrize("how", ["basic_raw", "basic_percent", "assertion"])
def test_a_client_id_with_a_nul_is_invalid_client_not_500_on_postgresql(client, how):
    """API.md Conventions: "No input, however malformed, produces a 5xx." The form parser
    refuses NUL, but the client_id decoded from HTTP Basic (raw, or `%00` by RFC 6749
    §2.3.1's form-decoding) and an assertion's `iss` reached the client look-up unchecked,
    and PostgreSQL refuses NUL in text (a DataError): 500."""
    form = {"grant_type": "client_credentials"}
    headers: dict[str, str] = {}
    if how == "basic_raw":
        headers = basic("svc\x00x", "secret")
    elif how == "basic_percent":
        headers = basic("svc%00x", "secret")
    else:
        form.update(client_assertion_type=ASSERTION_TYPE,
                    client_assertion=assertion_naming("svc\x00x"))
    response = client.post("/oauth/token", data=form, headers=headers)
    assert response.status_code == 401, (response.status_code, response.get_data(as_text=True))
    assert response.get_json()["error"] == "invalid_client"


# --- the database is down -----------------------------------------------------------------

def answer_while_down(private_pg: PrivatePostgres, make_app, path: str) -> Any:
    """`path`'s answer to a client's request while the database is stopped."""
    client = make_app(AUTHAPI_DATABASE_URL=private_pg.url).test_client()
    assert client.get("/.well-known/jwks.json").status_code == 200  # a signing key exists
    private_pg.stop()
    try:
        return client.post(path, data={"grant_type": "client_credentials", "token": "x"},
                           headers=basic("svc_nobody", "secret"))
    finally:
        private_pg.start()


@needs_private_postgresql
def test_the_token_endpoints_503_carries_retry_after(private_pg, make_app):
    """API.md Conventions: "503 `service_unavailable` when the database cannot be reached
    (with `Retry-After`)". /oauth/token answered its 503 in RFC 6749 form without the
    Retry-After that the problem+json answers add."""
    response = answer_while_down(private_pg, make_app, "/oauth/token")
    assert response.status_code == 503
    assert int(response.headers.get("Retry-After", "0")) > 0
    assert_oauth_error(response, 503, "service_unavailable")


@needs_private_postgresql
@pytest.mark.parametrize("path", ["/oauth/introspect", "/oauth/revoke"])
def test_introspect_and_revoke_503_are_in_rfc6749_form(private_pg, make_app, path):
    """API.md Conventions: "The `/oauth/*` endpoints answer errors in RFC 6749 §5.2 form
    instead" and "503 `service_unavailable` when the database cannot be reached (with
    `Retry-After`)". A database error there reached the app-wide handler and was
    answered as application/problem+json."""
    response = answer_while_down(private_pg, make_app, path)
    assert response.status_code == 503
    assert response.mimetype == "application/json", response.mimetype
    assert response.get_json()["error"] == "service_unavailable"
    assert int(response.headers.get("Retry-After", "0")) > 0
    assert_oauth_error(response, 503, "service_unavailable")


# --- error_description --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a%22b", "a%5Cb", "%C3%A9", "a%01"],
                         ids=["quote", "backslash", "non-ascii", "control"])
@pytest.mark.parametrize("path", OAUTH_FORMS)
def test_error_description_stays_within_rfc6749_characters(client, path, name):
    """API.md Conventions: errors of /oauth/* are in "RFC 6749 §5.2 form", whose
    error_description "MUST NOT include characters outside the set %x20-21 / %x23-5B /
    %x5D-7E" (no `"`, no `\\`, ASCII only). A repeated parameter's name was echoed with
    repr(): a quote, a backslash (repr's own escapes) or non-ASCII text went out as sent."""
    body = f"grant_type=client_credentials&{name}=1&{name}=2"
    response = client.post(path, data=body, content_type="application/x-www-form-urlencoded")
    answer = response.get_json()
    assert response.status_code == 400 and answer["error"] == "invalid_request", answer
    assert NQSCHAR.match(answer["error_description"]), answer["error_description"]


def test_a_registration_refusals_description_stays_within_rfc6749_characters(make_app):
    """API.md: POST /oauth/register is RFC 7591 registration, whose errors (§3.2.2) take
    RFC 6749 §5.2's form and so its error_description characters; the refusal put
    json.dumps(errors) there, full of `"`."""
    client = make_app(AUTHAPI_REGISTRATION="open").test_client()
    response = client.post("/oauth/register", json={"redirect_uris": ["not a uri"]})
    answer = response.get_json()
    assert response.status_code == 400, answer
    assert NQSCHAR.match(answer["error_description"]), answer["error_description"]
