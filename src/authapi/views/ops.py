"""Operations: liveness, readiness, metrics, and the Swagger UI assets served offline."""

from __future__ import annotations

from typing import Any

from flask import Blueprint as FlaskBlueprint
from flask import Response, current_app, request, send_from_directory
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from swagger_ui_bundle import swagger_ui_path

from authapi import db
from authapi.errors import NotFound, Unavailable
from authapi.ops import metrics
from authapi.views import Blueprint
from authapi.web.schemas import HealthSchema

bp = Blueprint("ops", __name__, description="Health checks and metrics.")


OK_BODY = '{"status": "ok"}'


@bp.get("/healthz")
@bp.doc(responses={"200": {"description": "The process is up.",
                           "content": {"application/json": {"schema": HealthSchema}}}})
def healthz() -> Response:
    """200 while the process is up; touches nothing else, serializes nothing."""
    return Response(OK_BODY, mimetype="application/json")


@bp.get("/readyz")
@bp.response(200, HealthSchema)
def readyz() -> Any:
    """200 when the database answers, else 503."""
    try:
        with db.engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError:
        raise Unavailable() from None
    return {"status": "ok"}


@bp.get("/metrics")
@bp.doc(responses={"200": {"description": "Prometheus text format (version 0.0.4).",
                           "content": {"text/plain": {"schema": {"type": "string"}}}}})
def prometheus_metrics() -> Response:
    """Every metric, summed over the server's workers.

    In production only on the metrics listener (AUTHAPI_METRICS_PORT, which `authapi
    serve` binds beside the API port): the API port answers 404, so login outcomes and
    traffic are not published to the Internet.
    """
    config = current_app.config
    if config["AUTHAPI_ENV"] == "production" and _listener_port(request.environ) != str(
            config["AUTHAPI_METRICS_PORT"]):
        raise NotFound()
    body, content_type = metrics.exposition()
    return Response(body, content_type=content_type)


def _listener_port(environ: dict[str, Any]) -> str | None:
    """The port of the listener the request came in on: the server's own SERVER_PORT, as
    it was before a trusted proxy's X-Forwarded-Host or -Port rewrote it (ProxyFix keeps
    the original), since those are whatever the client sent the proxy."""
    original = environ.get("werkzeug.proxy_fix.orig") or environ
    return original.get("SERVER_PORT")


# A plain Flask blueprint: these files are not part of the API document.
assets = FlaskBlueprint("docs_assets", __name__)


@assets.get("/docs/assets/<path:filename>")
def docs_assets(filename: str) -> Response:
    """Swagger UI's files, from the swagger-ui-bundle package: /docs works offline."""
    return send_from_directory(str(swagger_ui_path), filename, max_age=3600)
