"""Deployment: Redis nudges between instances, trusted proxies, empty 204s; and the
Kubernetes manifests of deploy/k8s, validated offline against Kubernetes' schemas."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
import yaml

from authapi import config, db
from authapi.accounts import users
from authapi.models import AuditEvent
from authapi.tokens.broadcast import CHANNEL
from conftest import bearer

REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_available() -> bool:
    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping())
    except redis.RedisError:
        return False


needs_redis = pytest.mark.skipif(not redis_available(), reason="no Redis on 127.0.0.1:6379")


def first_status_within(client, headers, seconds: float) -> tuple[int, float]:
    """Poll /auth/me until it stops answering 200, or give up after `seconds`."""
    start = time.monotonic()
    while True:
        status = client.get("/auth/me", headers=headers).status_code
        elapsed = time.monotonic() - start
        if status != 200 or elapsed > seconds:
            return status, elapsed
        time.sleep(0.005)


def wait_for_subscriber(seconds: float = 5.0) -> None:
    """B subscribes from a background thread: wait (bounded) until Redis counts it."""
    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.monotonic() + seconds
    while dict(client.pubsub_numsub(CHANNEL)).get(CHANNEL.encode(), 0) < 1:
        assert time.monotonic() < deadline, "subscriber never connected"
        time.sleep(0.01)


@needs_redis
def test_redis_nudge_reaches_an_instance_that_would_not_poll_for_a_minute(
        make_app, make_user, tmp_path):
    channel_isolation = {"AUTHAPI_REDIS_URL": REDIS_URL, "AUTHAPI_REVOCATION_POLL_INTERVAL": 60}
    app_a = make_app(**channel_isolation, AUTHAPI_INSTANCE_PATH=str(tmp_path / "a"))
    app_b = make_app(**channel_isolation, AUTHAPI_INSTANCE_PATH=str(tmp_path / "b"))
    client_a, client_b = app_a.test_client(), app_b.test_client()
    user = make_user(email=f"{uuid.uuid4().hex}@example.com")
    with app_a.app_context():
        email = users.get(user).email
    pair = client_a.post("/auth/login", json={"email": email,
                                              "password": "correct horse battery staple"}).json
    headers = bearer(pair["access_token"])
    assert client_b.get("/auth/me", headers=headers).status_code == 200  # B's cache is warm
    wait_for_subscriber()
    assert client_a.post("/auth/logout", headers=headers).status_code == 204
    status, elapsed = first_status_within(client_b, headers, seconds=2.0)
    assert status == 401
    assert elapsed < 1.0


def test_without_proxies_x_forwarded_for_is_ignored(app, client, make_user):
    make_user(email="p@example.com")
    client.post("/auth/login", json={"email": "p@example.com", "password": "wrong password!"},
                headers={"X-Forwarded-For": "203.0.113.9"})
    with app.app_context():
        ips = {e.ip for e in db.orm().query(AuditEvent).filter_by(event="login_failed")}
    assert ips == {"127.0.0.1"}


def test_behind_one_trusted_proxy_the_forwarded_client_is_recorded(make_app, make_user):
    app = make_app(AUTHAPI_PROXY_COUNT=1)
    make_user(email="q@example.com")
    app.test_client().post("/auth/login", json={"email": "q@example.com",
                                                "password": "wrong password!"},
                           headers={"X-Forwarded-For": "203.0.113.9"})
    with app.app_context():
        ips = {e.ip for e in db.orm().query(AuditEvent).filter_by(event="login_failed")}
    assert ips == {"203.0.113.9"}


def test_a_204_has_no_content_type(client, auth_headers):
    response = client.post("/auth/logout", headers=auth_headers())
    assert response.status_code == 204
    assert "Content-Type" not in response.headers


# --- deploy/k8s: valid against Kubernetes' own schemas, offline, and safe by default ---

K8S = Path(__file__).resolve().parent.parent / "deploy" / "k8s"
NOT_SETTINGS = {"FORWARDED_ALLOW_IPS"}  # gunicorn's, passed on by `authapi serve`
PUBLIC_PATHS = {"/auth/", "/oauth/", "/.well-known/", "/admin/", "/docs", "/openapi.json"}


def manifests(*, examples: bool = True) -> dict[str, list[dict[str, Any]]]:
    """Each manifest file's documents (not the kustomization itself)."""
    return {path.name: [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
            for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
            and (examples or not path.name.endswith(".example.yaml"))}


def resources() -> dict[str, dict[str, Any]]:
    """kind/name -> the resource, for what the kustomization applies."""
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc
            for docs in manifests(examples=False).values() for doc in docs}


def pod_specs() -> dict[str, dict[str, Any]]:
    found = {}
    for key, doc in resources().items():
        spec = doc.get("spec", {})
        if doc["kind"] == "CronJob":
            spec = spec["jobTemplate"]["spec"]
        if "template" in spec:
            found[key] = spec["template"]["spec"]
    return found


@pytest.fixture
def offline(monkeypatch):
    """No socket may connect: the schemas must come from the installed package."""
    def refuse(*_args: Any, **_kwargs: Any) -> None:
        raise OSError("network use in an offline test")
    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_every_manifest_is_valid_for_kubernetes_offline(offline):
    from kubernetes_validate import utils

    version = utils.latest_version()
    checked = 0
    for docs in manifests().values():
        for doc in docs:
            utils.validate(doc, version, strict=True)  # raises on any error
            checked += 1
    assert checked >= 12


def test_the_kustomization_applies_every_manifest_and_no_secret():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    assert set(kustomization["resources"]) == set(manifests(examples=False))
    assert not [key for key in resources() if key.startswith("Secret/")]
    example = manifests()["secret.example.yaml"]
    assert all(value.startswith(("<", "postgresql+psycopg://authapi:<", "redis://", "smtps://<"))
               for doc in example for value in doc["stringData"].values())


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="no kubectl (kustomize) here")
def test_kustomize_builds_the_base_and_its_output_is_valid():
    from kubernetes_validate import utils

    argv = [str(shutil.which("kubectl")), "kustomize", str(K8S)]
    built = subprocess.run(argv, capture_output=True, text=True, timeout=60,  # noqa: S603
                           check=False)
    assert built.returncode == 0, built.stderr
    docs = [doc for doc in yaml.safe_load_all(built.stdout) if doc]
    assert len(docs) == len(resources())
    for doc in docs:
        utils.validate(doc, utils.latest_version(), strict=True)
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "authapi"


def test_every_variable_is_a_real_setting_and_every_secret_key_exists():
    secret_keys = {doc["metadata"]["name"]: set(doc["stringData"])
                   for doc in manifests()["secret.example.yaml"]}
    configmap = resources()["ConfigMap/authapi"]["data"]
    names = set(configmap)
    for spec in pod_specs().values():
        for container in spec["containers"]:
            for variable in container.get("env", []):
                names.add(variable["name"])
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    assert ref["key"] in secret_keys[ref["name"]], ref
            assert container["envFrom"] == [{"configMapRef": {"name": "authapi"}}]
    unknown = {name for name in names if name not in config.DEFAULTS} - NOT_SETTINGS
    assert not unknown
    assert not {"AUTHAPI_SECRET_KEY", "AUTHAPI_DATABASE_URL", "AUTHAPI_MAIL_URL"} & set(configmap)
    assert config.resolve({**{k: v for k, v in configmap.items() if k.startswith("AUTHAPI_")},
                           "AUTHAPI_SECRET_KEY": "x" * 64,
                           "AUTHAPI_MAIL_URL": "smtp://mail.example.com:25"})


def test_every_pod_runs_unprivileged_read_only_with_resources():
    specs = pod_specs()
    assert set(specs) == {"Deployment/authapi", "Job/authapi-migrate", "CronJob/authapi-purge"}
    for key, spec in specs.items():
        assert spec["securityContext"]["runAsNonRoot"] is True, key
        assert spec["securityContext"]["runAsUser"] == 10001  # the Dockerfile's USER
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True, key
            assert context["allowPrivilegeEscalation"] is False, key
            assert context["capabilities"]["drop"] == ["ALL"], key
            assert {"cpu", "memory"} <= set(container["resources"]["requests"]), key
            assert "memory" in container["resources"]["limits"], key
    assert "USER 10001:10001" in (K8S.parent.parent / "Dockerfile").read_text()


def test_the_api_is_probed_and_the_jobs_run_the_right_commands():
    api = pod_specs()["Deployment/authapi"]["containers"][0]
    assert api["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert api["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert api["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert "--no-migrate" in api["command"]
    migrate = pod_specs()["Job/authapi-migrate"]["containers"][0]
    assert migrate["command"] == ["authapi", "db", "upgrade"]
    assert pod_specs()["CronJob/authapi-purge"]["containers"][0]["command"] == [
        "authapi", "purge"]
    assert resources()["HorizontalPodAutoscaler/authapi"]["apiVersion"] == "autoscaling/v2"
    assert resources()["HorizontalPodAutoscaler/authapi"]["spec"]["minReplicas"] >= 2
    assert resources()["PodDisruptionBudget/authapi"]["spec"]["minAvailable"] == 1


def test_the_ingress_routes_every_public_path_over_tls_and_metrics_stay_inside():
    ingress = resources()["Ingress/authapi"]["spec"]
    assert ingress["tls"][0]["secretName"]
    paths = {p["path"] for rule in ingress["rules"] for p in rule["http"]["paths"]}
    assert PUBLIC_PATHS <= paths
    assert not {path for path in paths if path.startswith(("/metrics", "/readyz"))}
    service_ports = {port["targetPort"] for port in resources()["Service/authapi"]["spec"]["ports"]}
    assert service_ports == {"http"}
    policy = resources()["NetworkPolicy/authapi"]["spec"]["ingress"]
    assert {port["port"] for rule in policy for port in rule["ports"]} == {"http", "metrics"}


def test_nginx_and_the_ingress_route_the_same_public_paths():
    conf = (K8S.parent / "nginx.conf").read_text()
    nginx = {path.rstrip("/") for path in re.findall(
        r"location (?:= )?(\S+) \{\s*proxy_pass http://authapi;", conf)}
    ingress = resources()["Ingress/authapi"]["spec"]["rules"][0]["http"]["paths"]
    assert nginx == {p["path"].rstrip("/") for p in ingress}
    assert {path.rstrip("/") for path in PUBLIC_PATHS} <= nginx
