"""/admin/clients: register, list, delete service clients and rotate their secrets."""

from __future__ import annotations

from typing import Any

from authapi import authz, db
from authapi.oauth import clients
from authapi.views import Blueprint, grantor, paged
from authapi.web.schemas import ClientCreateSchema, ClientPageSchema, ClientSchema, PageArgsSchema

bp = Blueprint("admin_clients", __name__, url_prefix="/admin/clients",
               description="Service clients (OAuth 2 client credentials).")


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
                             body["jwks_url"], grantor=grantor(), audiences=body["audiences"])
    db.orm().commit()
    return created


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
    rotated = clients.rotate_secret(client_row_id)
    db.orm().commit()
    return rotated
