"""Flask-JWT-Extended's own equivalent of authapi's hot routes: what a team hand-rolls.

A protected route (`@jwt_required()`) and the library's refresh (`@jwt_required(
refresh=True)` answering a new access token; no rotation, no revocation, no database),
HS256, its defaults otherwise. bench/fje.py serves it with authapi's gunicorn command
line, as bench/bare_app.py, and compares authapi's `/auth/check` and `/auth/refresh`
with these.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask_jwt_extended import (
    JWTManager,
    create_access_token,
    get_jwt_identity,
    jwt_required,
)

app = Flask(__name__)
app.config["JWT_SECRET_KEY"] = os.environ.get("BENCH_FJE_SECRET", "bench-fje-secret-" + "x" * 32)
JWTManager(app)


@app.get("/healthz")
def healthz() -> dict[str, Any]:
    """The readiness probe of bench/loadgen.py."""
    return {"status": "ok"}


@app.get("/protected")
@jwt_required()
def protected() -> dict[str, Any]:
    """A route any valid access token opens."""
    return {"sub": get_jwt_identity()}


@app.post("/refresh")
@jwt_required(refresh=True)
def refresh() -> dict[str, Any]:
    """The library's documented refresh: a new access token for the refresh token's user."""
    return {"access_token": create_access_token(identity=get_jwt_identity())}
