"""/admin/clients: register, list, delete service clients and rotate their secrets."""

from __future__ import annotations

from typing import Any

from authapi import authz, db
from authapi.oauth import clients
from authapi.oauth.registration import Registration
from authapi.views import Blueprint, grantor, paged
from authapi.web.schemas import (
    ClientCreateSchema,
    ClientPageSchema,
    ClientPatchSchema,
    ClientSchema,
    PageArgsSchema,
)

APP_LISTS = ("redirect_uris", "post_logout_redirect_uris", "grant_types", "resources")
APP_VALUES = ("token_endpoint_auth_method", "first_party", "require_par", "require_dpop")


def _registration(body: dict[str, Any]) -> Registration:
    """The provider fields of a request body (absent ones None: defaults or unchanged)."""
    fields: dict[str, Any] = {name: body.get(name) for name in APP_VALUES}
    fields.update({name: tuple(body[name]) if body.get(name) is not None else None
                   for name in APP_LISTS})
    return Registration(**fields)

bp = Blueprint("admin_clients", __name__, url_prefix="/admin/clients",
               description="OAuth 2 clients: services and apps that sign users in.")


@bp.get("")
@authz.permissions_required("clients:read")
@bp.arguments(PageArgsSchema, location="query")
@bp.response(200, ClientPageSchema)
def list_clients(args: dict[str, Any]) -> Any:
    """Every client, oldest first."""
    return paged(args, clients.page)


@bp.post("")
@authz.permissions_required("clients:write")
@bp.arguments(ClientCreateSchema)
@bp.response(201, ClientSchema)
def create_client(body: dict[str, Any]) -> Any:
    """Register a client; its secret is in this answer and never again."""
    created = clients.create(body["name"], body["scope"], body["exchange"], body["jwks"],
                             body["jwks_url"], grantor=grantor(), audiences=body["audiences"],
                             app=_registration(body))
    db.orm().commit()
    return created


@bp.patch("/<string:client_row_id>")
@authz.permissions_required("clients:write")
@bp.arguments(ClientPatchSchema)
@bp.response(200, ClientSchema)
def update_client(body: dict[str, Any], client_row_id: str) -> Any:
    """Change a client's name, scope, provider fields or `disabled`; the rest stays."""
    updated = clients.update(client_row_id, grantor(), name=body.get("name"),
                             scope=body.get("scope"), app=_registration(body),
                             disabled=body.get("disabled"))
    db.orm().commit()
    return updated


@bp.delete("/<string:client_row_id>")
@authz.permissions_required("clients:write")
@bp.response(204)
def delete_client(client_row_id: str) -> None:
    """Delete a client and revoke every token it holds."""
    clients.delete(client_row_id)
    db.orm().commit()


@bp.post("/<string:client_row_id>/secret")
@authz.permissions_required("clients:write")
@bp.response(200, ClientSchema)
def rotate_secret(client_row_id: str) -> Any:
    """A new secret; the old one stops working at once."""
    rotated = clients.rotate_secret(client_row_id, grantor())
    db.orm().commit()
    return rotated
