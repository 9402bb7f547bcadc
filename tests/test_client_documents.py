"""Client ID metadata documents (issue 22, item 2): with
AUTHAPI_CLIENT_METADATA_DOCUMENTS=1 an https URL as client_id names a public client
whose metadata authapi fetches (outbound.py's limits); its redirect_uris are the only
ones allowed, it is never first-party, and the consent screen shows the URL's host."""

from __future__ import annotations

import pytest

from conftest import assert_problem
from test_outbound import Host
from test_provider import Flow, query

CALLBACK = "https://agent.example/callback"


@pytest.fixture
def document():
    host = Host()
    client_id = host.url.replace("/jwks.json", "/client.json")
    host.set(body={"client_id": client_id, "client_name": "Agent",
                   "redirect_uris": [CALLBACK], "token_endpoint_auth_method": "none"})
    host.client_id = client_id
    yield host
    host.close()


def on(make_app, **settings):
    return make_app(AUTHAPI_ENV="development", AUTHAPI_CLIENT_METADATA_DOCUMENTS=True,
                    **settings).test_client()


class DocumentFlow(Flow):
    def authorize(self, **params):
        return super().authorize(redirect_uri=CALLBACK, **params)

    def code_of(self, location):
        assert location.startswith(CALLBACK + "?"), location
        return query(location)["code"]

    def token(self, code, **form):
        return self.client.post("/oauth/token", data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": CALLBACK,
            "code_verifier": self.verifier, "client_id": self.app["client_id"], **form})


def test_an_agent_named_by_its_document_signs_a_user_in(make_app, make_user, document):
    client = on(make_app)
    make_user(email="ada@example.com")
    flow = DocumentFlow(client, {"client_id": document.client_id})
    request_id = flow.request_id(flow.authorize(resource="https://mcp.example/"))
    pending = client.get(f"/oauth/requests/{request_id}").get_json()
    assert pending["client"] == {"client_id": document.client_id, "name": "127.0.0.1",
                                 "first_party": False}
    flow.login(request_id, "ada@example.com")
    code = flow.code_of(flow.consent(request_id).get_json()["redirect_to"])
    response = flow.token(code)
    assert response.status_code == 200, response.get_json()
    assert document.hits == 1  # cached


def test_documents_are_off_by_default(make_app, document):
    client = make_app(AUTHAPI_ENV="development").test_client()
    flow = DocumentFlow(client, {"client_id": document.client_id})
    assert_problem(flow.authorize(), 400, "invalid_request")
    assert document.hits == 0


def test_outside_development_a_loopback_document_is_never_fetched(make_app, document):
    client = make_app(AUTHAPI_CLIENT_METADATA_DOCUMENTS=True).test_client()  # testing
    flow = DocumentFlow(client, {"client_id": document.client_id})
    assert_problem(flow.authorize(), 400, "invalid_request")
    assert document.hits == 0


@pytest.mark.parametrize("bend", [
    {"client_id": "https://someone.else/client.json"},
    {"redirect_uris": ["http://evil.example/cb"]},
    {"redirect_uris": []},
    {"token_endpoint_auth_method": "client_secret_basic"},
    {"grant_types": ["client_credentials"]},
])
def test_a_document_that_does_not_hold_is_an_unknown_client(make_app, document, bend):
    document.set(body={"client_id": document.client_id, "redirect_uris": [CALLBACK],
                       **bend})
    flow = DocumentFlow(on(make_app), {"client_id": document.client_id})
    response = flow.authorize()
    assert "Location" not in response.headers
    assert_problem(response, 400, "invalid_request")


def test_only_the_documents_redirect_uris_are_allowed(make_app, document):
    flow = DocumentFlow(on(make_app), {"client_id": document.client_id})
    response = Flow.authorize(flow, redirect_uri="https://agent.example/other")
    assert_problem(response, 400, "invalid_request")


def test_a_document_over_5_kib_is_refused(make_app, document):
    document.set(body={"client_id": document.client_id, "redirect_uris": [CALLBACK],
                       "pad": "x" * 6000})
    flow = DocumentFlow(on(make_app), {"client_id": document.client_id})
    assert_problem(flow.authorize(), 400, "invalid_request")


def test_discovery_says_whether_documents_are_on(make_app, client):
    key = "client_id_metadata_document_supported"
    assert client.get("/.well-known/openid-configuration").get_json()[key] is False
    assert on(make_app).get("/.well-known/openid-configuration").get_json()[key] is True
