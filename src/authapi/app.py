"""The application factory: settings, database, errors, blueprints, in one place."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from authapi import context, errors
from authapi.accounts import oidc, recovery
from authapi.instance import create_base
from authapi.limits import limits
from authapi.mail import outbox
from authapi.ops import telemetry
from authapi.tokens import changes, revocation, tokens
from authapi.tokens.keys import Keyring
from authapi.web import cors, hostjwt
from authapi.web.bodylimit import TOO_LARGE, ChunkedBodyLimit
from authapi.web.edge import Edge

MAX_BODY = 64 * 1024

API_SETTINGS = {
    "API_TITLE": "authapi",
    "API_VERSION": "1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/docs/assets/",
}


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app from the defaults and either `config` or the AUTHAPI_* environment."""
    app = create_base(config)
    values, instance = app.config, Path(app.instance_path)
    app.config.update(API_SETTINGS)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.extensions["authapi.keyring"] = Keyring()
    revocation.init_app(app, instance)
    changes.watch(app.extensions["authapi.sessionmaker"])  # cached rows, by the feed
    from authapi.views import Api

    api = Api(app)
    errors.init_app(app)  # after Api, so our renderer replaces flask-smorest's
    tokens.init_app(app)
    hostjwt.init_app(app)  # Flask-JWT-Extended on host routes, by authapi's rules
    limits.init_app(app)
    cors.init_app(app)
    # A password reset is decided by the worker, after its 202 (#11).
    outbox.init_app(app, jobs=[recovery.handle_requests])
    proxies = int(values["AUTHAPI_PROXY_COUNT"])
    if proxies > 0:  # only then may X-Forwarded-For name the client (rate limits, audit)
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies,  # type: ignore[method-assign]
                                x_host=proxies)
    app.wsgi_app = ChunkedBodyLimit(app.wsgi_app, MAX_BODY)  # type: ignore[method-assign]
    app.wsgi_app = Edge(app.wsgi_app)  # type: ignore[method-assign]  # headers, metrics
    app.before_request(_check_body)
    telemetry.init_app(app)  # JSON logs
    oidc.init_app(app)  # also scopes Flask's cookie session to /auth/oidc: no other
    # request pays for its signing serializer (about 100 µs of each /healthz)

    from authapi.views import (
        account,
        admin,
        admin_clients,
        auth,
        device,
        loginpage,
        oauth,
        ops,
        passkeys,
        provider,
        wellknown,
    )
    from authapi.views import oidc as oidc_views

    for blueprint in (auth.bp, ops.bp, wellknown.bp, passkeys.bp, admin.bp, oidc_views.bp,
                      oauth.bp, provider.bp, device.bp, admin_clients.bp, account.bp):
        api.register_blueprint(blueprint)
    app.register_blueprint(ops.assets)
    app.register_blueprint(loginpage.bp)
    rules = {rule.rule: rule for rule in app.url_map.iter_rules()}
    for path, operations in loginpage.OPENAPI_PATHS.items():
        api.spec.path(rule=rules[path], operations=operations)
    return app


def _check_body() -> None:
    # From the environ, not `request.content_length`: werkzeug answers a missing header
    # by building and catching an HTTP exception, twice a request (bench/hooks.py).
    environ = context.request().environ
    length = environ.get("CONTENT_LENGTH")
    if TOO_LARGE in environ or (length and length.isdigit() and int(length) > MAX_BODY):
        raise errors.PayloadTooLarge()
