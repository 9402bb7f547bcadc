"""User sessions (one per login): start, rotate the refresh chain, revoke, list."""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from flask import current_app
from sqlalchemy import func, select, update

from authapi import audit, context, db
from authapi.accounts import notices, users
from authapi.audit import ClientMeta
from authapi.db import utcnow
from authapi.errors import (
    AccountDisabled,
    InvalidDpopProof,
    InvalidTarget,
    NotFound,
    TokenInvalid,
    TokenReused,
    TokenRevoked,
)
from authapi.models import User, UserSession, user_roles
from authapi.sessions import grace, rotation
from authapi.tokens import dpop, revocation, secretbox, tokens

TokenPair = dict[str, Any]
REUSED = "token_reused"
CSRF = "csrf"  # the purpose of the key that CSRF values are hashed with


def subject_of(user: User) -> tokens.Subject:
    """The claims a user's access token carries, as the database says now."""
    return tokens.Subject(sub=user.id, roles=user.role_names(), scope=user.scope())


@dataclass(frozen=True)
class AppGrant:
    """What a session an app opened through /oauth/authorize carries (OIDC provider)."""

    client_id: str
    scope: str  # what the user let the app have, OpenID scopes included
    audience: tuple[str, ...] = ()  # RFC 8707 resources; none: the configured audience
    sign_in_id: str | None = None  # the browser sign-in it came from
    refresh: bool = False
    # RFC 8707 §2.2: the resources this token request named, when it named any (a subset
    # of `audience`, which the session keeps for the next refresh).
    requested: tuple[str, ...] | None = None
    # What the client may be granted now (its registration can have narrowed since the
    # user consented); None: not checked here.
    offered: Callable[[str], bool] | None = None

    def claims(self) -> dict[str, Any]:
        """The access token's `client_id` and `aud` (one resource, several, or ours)."""
        audience = self.audience if self.requested is None else self.requested
        aud: Any = list(audience) if len(audience) > 1 else (
            audience[0] if audience else current_app.config["AUTHAPI_AUDIENCE"])
        return {"client_id": self.client_id, "aud": aud}

    def narrowed(self, resources: Sequence[str]) -> AppGrant:
        """This grant with its access token for `resources` only (none named: all)."""
        if not resources:
            return self
        return replace(self, requested=target(self.audience, resources))

    def effective_scope(self, held: str) -> str:
        """The consented scope, less the permissions the user no longer holds and those
        the client may no longer be granted."""
        still = set(held.split()) | set(OPENID_SCOPES)
        return " ".join(s for s in self.scope.split()
                        if s in still and (self.offered is None or self.offered(s)))


def target(granted: Sequence[str], resources: Sequence[str]) -> tuple[str, ...]:
    """RFC 8707 §2.2: the resources a token request names, each one the grant holds (a
    grant of none holds the configured audience); else 400 `invalid_target`."""
    holds = tuple(granted) or (current_app.config["AUTHAPI_AUDIENCE"],)
    if any(resource not in holds for resource in resources):
        raise InvalidTarget("resource is not one this grant is for.")
    return tuple(dict.fromkeys(resources))


# The OpenID Connect scopes: any app may ask for them; none is a permission.
OPENID_SCOPES = ("openid", "profile", "email", "offline_access")


def _pair(subject: tokens.Subject, session_id: str, refresh_jti: str, access_jti: str,
          cookies: bool, jkt: str | None = None, sign_in: tokens.SignIn | None = None,
          app: AppGrant | None = None) -> TokenPair:
    # Cookie mode binds a CSRF value into the refresh token (double submit); the pair
    # carries it too, for the CSRF cookie (views.auth.deliver takes it out of the body).
    csrf = csrf_value(session_id) if cookies else None
    refresh_extra = {"csrf": csrf} if csrf else {}
    if app is not None:
        subject = tokens.Subject(subject.sub, subject.roles, app.effective_scope(subject.scope))
        refresh_extra["client_id"] = app.client_id
    pair = {
        "access_token": tokens.issue_access(subject, session_id, access_jti,
                                            cnf=dpop.confirmation(jkt), sign_in=sign_in,
                                            extra=app.claims() if app else None),
        "token_type": dpop.token_type(jkt),
        "expires_in": int(context.app().config["AUTHAPI_ACCESS_TTL"]),
    }
    if app is None or app.refresh:
        pair["refresh_token"] = tokens.issue_refresh(subject.sub, session_id, refresh_jti,
                                                     refresh_extra or None)
    if app is not None:
        pair["scope"] = subject.scope
    if csrf:
        pair["csrf"] = csrf
    return pair


def csrf_value(session_id: str) -> str:
    """The session's CSRF value (a keyed hash of its id): the same for every refresh
    token of the session, so a tab that read it just before another tab rotated the
    cookie still sends a matching pair, and a new session gets a value of its own."""
    return secretbox.keyed_hash(session_id, CSRF)


def is_uuid(value: str) -> bool:
    """Whether a path segment can be one of our ids (anything else cannot exist)."""
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False



def _open(user_id: str, meta: ClientMeta, sign_in: tokens.SignIn, **extra: Any) -> UserSession:
    """A new session row carrying the sign-in it comes from (flushed: its id is known)."""
    row = UserSession(user_id=user_id, refresh_jti=tokens.new_jti(), user_agent=meta.user_agent,
                      ip=meta.ip, expires_at=rotation.expiry(), auth_time=sign_in.auth_time,
                      acr=sign_in.acr, amr=" ".join(sign_in.amr), **extra)
    db.orm().add(row)
    db.orm().flush()
    return row


def start(user: User, meta: ClientMeta, sign_in: tokens.SignIn, cookies: bool = False,
          method: str = "password", jkt: str | None = None) -> TokenPair:
    """Open a session for a user who just proved who they are (`sign_in`, by `method`;
    bound to `jkt`)."""
    tokens.load_signing_key()
    row = _open(user.id, meta, sign_in, dpop_jkt=jkt)
    audit.record("login", user_id=user.id, detail={"session_id": row.id, "method": method})
    return _pair(subject_of(user), row.id, row.refresh_jti, tokens.new_jti(), cookies, jkt,
                 sign_in)


def open_sign_in(user: User, meta: ClientMeta, sign_in: tokens.SignIn, method: str) -> str:
    """A browser's sign-in at the provider (the `authapi_session` cookie names it): a
    session that issues no token itself; the apps' sessions descend from it. Its id."""
    row = _open(user.id, meta, sign_in)
    audit.record("login", user_id=user.id, detail={"session_id": row.id, "method": method})
    return row.id


def start_app(user_id: str, meta: ClientMeta, sign_in: tokens.SignIn, app: AppGrant,
              jkt: str | None = None, *, bind: bool = True) -> tuple[TokenPair, str]:
    """Open the session of an app a user let in (an authorization code's exchange):
    tokens for `app.client_id` with the consented scope, and a refresh token when the
    grant allows one; and its id. The access token is bound to `jkt` when the app
    proved a DPoP key, and so is the session (its refresh tokens) when `bind`: RFC 9449
    §5 binds a public client's refresh tokens only, a confidential one's being bound
    to its client authentication already."""
    tokens.load_signing_key()
    profile = users.profile(user_id)
    row = _open(user_id, meta, sign_in, dpop_jkt=jkt if bind else None, client_id=app.client_id,
                scope=app.scope, audience=list(app.audience) or None,
                sign_in_id=app.sign_in_id)
    subject = tokens.Subject(sub=user_id, roles=profile["roles"], scope=profile["scope"])
    return _pair(subject, row.id, row.refresh_jti, tokens.new_jti(), False, jkt, sign_in,
                 app), row.id


def renew(claims: dict[str, Any], meta: ClientMeta, sign_in: tokens.SignIn, cookies: bool,
          jkt: str | None = None) -> TokenPair:
    """A new pair in the session of `claims` (an access token's) after the user proved
    who they are again: a fresh `auth_time`, and the `acr`/`amr` of what was proved.

    The session's refresh token is rotated as a refresh would; the one it replaces is
    kept for the grace window, so a refresh already in flight gets this pair rather than
    tripping reuse detection.
    """
    tokens.load_signing_key()
    session_id, user_id = claims["sid"], claims["sub"]
    row = db.orm().scalar(select(UserSession).where(
        UserSession.id == session_id, UserSession.user_id == user_id).with_for_update())
    if row is None or row.revoked_at is not None:
        raise TokenRevoked()
    if row.client_id is not None:  # an app's session renews at the app's authorize
        raise TokenInvalid("An app's session is renewed through /oauth/authorize.")
    _check_key(row.dpop_jkt, jkt)
    old_jti, row.refresh_jti = row.refresh_jti, tokens.new_jti()
    row.auth_time, row.acr, row.amr = sign_in.auth_time, sign_in.acr, " ".join(sign_in.amr)
    row.last_used_at, row.ip, row.user_agent = utcnow(), meta.ip, meta.user_agent
    row.expires_at = rotation.expiry()
    pair = _pair(subject_of(users.get(user_id)), session_id, row.refresh_jti, tokens.new_jti(),
                 cookies, row.dpop_jkt or jkt, sign_in)
    if row.dpop_jkt is None and jkt is not None:
        row.dpop_jkt = jkt  # RFC 9449 §5: a proof binds an unbound session
    grace.remember(session_id, old_jti, row.refresh_jti, pair)
    audit.record("reauthenticated", user_id=user_id,
                 detail={"session_id": session_id, "acr": sign_in.acr})
    return pair


def rotate(claims: dict[str, Any], meta: ClientMeta, jkt: str | None = None,
           resources: Sequence[str] = (), offered: Callable[[str], bool] | None = None,
           *, bind: bool = True) -> TokenPair:
    """Consume a refresh token once; presenting a used one revokes its whole session.

    One conditional UPDATE decides (sessions.rotation): it consumes the token only if
    the proof's key is the session's (or the session is unbound, which it then binds to
    `jkt`), and returns the key and the session's sign-in (`auth_time`, `acr`, `amr`,
    kept across refreshes). A proof by another key, or none for a bound session,
    consumes nothing: 401, and the token stays usable by its rightful holder.

    `resources` (RFC 8707, the token endpoint) narrows the access token's audience; the
    caller has checked them against the session's grant (`granted_audience`) first. An
    app's session gets no scope its client may no longer be granted (`offered`).
    `bind` False (a confidential app's session): a proof binds the access token only.
    """
    tokens.load_signing_key()
    session_id, old_jti, new_jti = claims["sid"], claims["jti"], tokens.new_jti()
    access_jti = tokens.new_jti()  # minted before roles are read: see revocation.is_revoked
    rotated = rotation.consume(claims, meta, new_jti, jkt, in_transaction=bool(grace.window()),
                               bind=bind)
    if rotated is None:
        dpop_key(session_id, jkt)  # a wrong proof: 401, and the token stays usable
        replayed = grace.replay(claims)  # the just-rotated token, inside the grace window
        if replayed is not None:
            return replayed
        _refuse(session_id, claims["sub"], old_jti)
    profile = rotated.profile
    if profile is None:  # deleted in the meantime: its sessions went with it
        raise TokenRevoked()
    if profile["disabled"]:
        revoke(session_id, "account_disabled")
        db.orm().commit()  # the revocation must outlive the error below
        raise AccountDisabled()
    subject = tokens.Subject(sub=claims["sub"], roles=profile["roles"], scope=profile["scope"])
    app = None
    if rotated.client_id is not None:  # an app's session: its grant, not all
        app = AppGrant(client_id=rotated.client_id, scope=rotated.scope or "",
                       audience=rotated.audience, refresh=True,
                       offered=offered).narrowed(resources)
    pair = _pair(subject, session_id, new_jti, access_jti, cookies="csrf" in claims,
                 jkt=rotated.jkt or jkt, sign_in=rotated.sign_in, app=app)
    grace.remember(session_id, old_jti, new_jti, pair)
    return pair


def granted_audience(session_id: str) -> tuple[str, ...]:
    """The RFC 8707 resources a session's grant holds (none: the configured audience)."""
    found = db.orm().scalar(select(UserSession.audience).where(UserSession.id == session_id))
    return tuple(found or ())


def _check_key(bound: str | None, jkt: str | None) -> None:
    if bound is not None and (jkt is None or not hmac.compare_digest(bound, jkt)):
        raise InvalidDpopProof("This session is bound to a DPoP key: refresh with a proof by it.")


def _refuse(session_id: str, user_id: str, jti: str) -> NoReturn:
    row = db.orm().get(UserSession, session_id)
    if row is None or row.user_id != user_id:
        raise TokenRevoked()
    if row.revoked_at is not None:
        # A used token of a session that reuse already killed is still a reuse.
        if row.revoked_reason == REUSED and row.refresh_jti != jti:
            raise TokenReused()
        raise TokenRevoked()
    # The session is alive but the token is not its current one: a replay (RFC 9700 §4.14.2).
    # It ends with every session that descends from its login: an app's or a device's
    # session opened from it (sign_in_id), which a thief holding it could have made.
    revoke(session_id, REUSED)
    for descendant in list(db.orm().scalars(select(UserSession.id).where(
            UserSession.sign_in_id == session_id, UserSession.revoked_at.is_(None)))):
        revoke(descendant, REUSED)
    audit.record(REUSED, user_id=user_id, detail={"session_id": session_id})
    notices.session_stolen(row)
    db.orm().commit()  # the revocation must outlive the error below
    raise TokenReused()


def revoke(session_id: str, reason: str) -> bool:
    """Revoke one session: its refresh token and every access token it issued. False when
    it was revoked already (or is gone)."""
    changed = db.affected(
        update(UserSession).where(UserSession.id == session_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow(), revoked_reason=reason)
    )
    if changed:
        revocation.record(db.orm(), session_id=session_id)
    return bool(changed)


def revoke_all(user_id: str, reason: str, keep: str | None = None) -> int:
    """Revoke every live session of a user, except `keep`; return how many."""
    query = select(UserSession.id).where(UserSession.user_id == user_id,
                                         UserSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(UserSession.id != keep)
    ids = list(db.orm().scalars(query))
    for session_id in ids:
        revoke(session_id, reason)
    return len(ids)


def void_access_tokens(user_id: str) -> None:
    """Make every access token issued to the user so far answer `token_revoked`.

    Their sessions stay alive: the next refresh issues tokens with the new claims.
    """
    _void(UserSession.user_id == user_id)


def void_role_holders(role_id: int) -> int:
    """Void the access tokens of every holder of a role at once; return how many sessions.

    One UPDATE over the holders' live sessions, in the admin's request: the per-request
    check stays one cached look-up per session (revocation.py), with no per-role query.
    """
    holders = select(user_roles.c.user_id).where(user_roles.c.role_id == role_id)
    return _void(UserSession.user_id.in_(holders))


def _void(*where: Any) -> int:
    # The live sessions are locked before the clock is read: a refresh that rotated one
    # before the lock minted its token earlier (void by the cut-off), and one that waits
    # for the lock reads the roles after this commits (sessions.rotation). Then UPDATE ...
    # RETURNING: the feed names exactly the sessions this statement changed, including
    # one opened between the SELECT and the UPDATE.
    live = (UserSession.revoked_at.is_(None), *where)
    db.orm().execute(select(UserSession.id).where(*live).with_for_update())
    now_ms = int(utcnow().timestamp() * 1000)
    changed = db.orm().scalars(
        update(UserSession).where(*live)
        .values(access_not_before=now_ms).returning(UserSession.id)
        .execution_options(synchronize_session=False))
    ids = list(changed)
    revocation.record_sessions(db.orm(), ids)
    return len(ids)


def delete_own(user_id: str, session_id: str) -> None:
    """Revoke one of the caller's own sessions; someone else's is not found."""
    row = db.orm().get(UserSession, session_id) if is_uuid(session_id) else None
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        raise NotFound("No such session.")
    revoke(session_id, "deleted")
    audit.record("logout", user_id=user_id, detail={"session_id": session_id})


def list_active(user_id: str, current: str | None, page: int,
                per_page: int) -> tuple[list[dict[str, Any]], int]:
    """One page of the user's live sessions, newest use first, and their total."""
    where = (UserSession.user_id == user_id, UserSession.revoked_at.is_(None),
             UserSession.expires_at > utcnow())
    total = db.orm().scalar(select(func.count()).select_from(UserSession).where(*where)) or 0
    rows = db.orm().scalars(
        select(UserSession).where(*where)
        .order_by(UserSession.last_used_at.desc(), UserSession.id)
        .limit(per_page).offset((page - 1) * per_page))
    items = [{"id": row.id, "created_at": row.created_at, "last_used_at": row.last_used_at,
              "user_agent": row.user_agent, "ip": row.ip, "current": row.id == current}
             for row in rows]
    return items, total


def dpop_key(session_id: str, jkt: str | None) -> str | None:
    """The key a refresh of this session binds to (RFC 9449 §5); 401 if it proves another.

    For the paths that do not consume the token (a grace replay); `rotate` does the
    same in its UPDATE.
    """
    bound = db.orm().scalar(select(UserSession.dpop_jkt).where(UserSession.id == session_id))
    _check_key(bound, jkt)
    return bound or jkt
