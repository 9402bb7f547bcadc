"""deploy/compose.yaml: it parses, names only what it defines, sets only real settings,
keeps everything but nginx off the host, and runs the migration, first admin and purge.

`docker compose config` validates it too where compose exists (not on these machines).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from authapi import config

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"
# Variables of the environment that are not authapi settings but are read by what it runs.
NOT_SETTINGS = {"FORWARDED_ALLOW_IPS"}  # gunicorn's, passed on by `authapi serve`
INTERPOLATION = re.compile(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}")


def compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text())  # type: ignore[no-any-return]


def authapi_services() -> dict[str, dict[str, Any]]:
    return {name: service for name, service in compose()["services"].items()
            if service.get("image", "").startswith("authapi")}


def listed(value: Any) -> list[str]:
    """A compose list-or-mapping (depends_on, networks, secrets) as its names."""
    if isinstance(value, dict):
        return list(value)
    return [item["source"] if isinstance(item, dict) else item for item in value or []]


def is_setting(name: str) -> bool:
    return name in config.DEFAULTS or bool(config.OIDC_VARIABLE.fullmatch(name))


def test_every_reference_is_to_something_defined():
    spec = compose()
    services = spec["services"]
    for name, service in services.items():
        assert "image" in service, name
        for needed in listed(service.get("depends_on")):
            assert needed in services, (name, needed)
        for network in listed(service.get("networks")):
            assert network in spec["networks"], (name, network)
        for secret in listed(service.get("secrets")):
            assert secret in spec["secrets"], (name, secret)
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert source in ("./nginx.conf", "./certs"), source
            else:
                assert source in spec["volumes"], (name, source)
        conditions = service.get("depends_on") or {}
        if isinstance(conditions, dict):
            assert {c["condition"] for c in conditions.values()} <= {
                "service_started", "service_healthy", "service_completed_successfully"}


def test_every_variable_given_to_authapi_is_a_real_setting():
    services = authapi_services()
    assert {"migrate", "authapi-1", "authapi-2", "purge"} <= set(services)
    for name, service in services.items():
        unknown = {key for key in service["environment"]
                   if not is_setting(key) and key not in NOT_SETTINGS}
        assert not unknown, (name, unknown)


def test_the_settings_it_fixes_are_valid_in_production():
    environment = {key: value for key, value in authapi_services()["migrate"]["environment"]
                   .items() if key.startswith("AUTHAPI_")}
    # ${NAME:-default} takes its default (a URL stays a URL); a required ${NAME:?…}, a secret.
    filled = {key: INTERPOLATION.sub(
        lambda match: match.group(0)[2:-1].split(":-", 1)[1] if ":-" in match.group(0)
        else "x" * 40, str(value)) for key, value in environment.items()}
    filled["AUTHAPI_MAIL_URL"] = "smtps://user:pass@smtp.example.com:465"
    resolved = config.resolve(filled)
    assert resolved["AUTHAPI_ENV"] == "production" and resolved["AUTHAPI_PROXY_COUNT"] == 1


def test_secrets_and_the_mail_url_have_no_default_that_would_start():
    environment = authapi_services()["authapi-1"]["environment"]
    for key in ("AUTHAPI_SECRET_KEY", "AUTHAPI_MAIL_URL"):
        assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", environment[key]), key
    assert ":?" in environment["AUTHAPI_DATABASE_URL"]  # the database password too
    assert ":?" in compose()["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"]


def test_only_nginx_is_reachable_from_the_host():
    services = compose()["services"]
    published = {name for name, service in services.items() if service.get("ports")
                 and "profiles" not in service}
    assert published == {"nginx"}
    assert compose()["networks"]["data"]["internal"] is True
    for name in ("postgres", "redis"):
        assert listed(services[name]["networks"]) == ["data"]


def test_migration_first_admin_and_purge_run_as_jobs():
    services = authapi_services()
    migrate = services["migrate"]
    assert migrate["command"] == ["authapi", "db", "upgrade"]
    assert migrate["restart"] == "no"
    path = migrate["environment"]["AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE"]
    assert path == f"/run/secrets/{listed(migrate['secrets'])[0]}"
    assert "authapi purge" in " ".join(services["purge"]["command"])
    for name in ("authapi-1", "authapi-2", "purge"):
        assert services[name]["depends_on"]["migrate"]["condition"] == \
            "service_completed_successfully"
        assert "AUTHAPI_BOOTSTRAP_ADMIN_PASSWORD_FILE" not in services[name]["environment"]
    for service in services.values():
        assert service["read_only"] is True and service["cap_drop"] == ["ALL"]


def test_nginx_mounts_what_its_configuration_names():
    nginx = compose()["services"]["nginx"]
    conf = (DEPLOY / "nginx.conf").read_text()
    mounts = dict(volume.split(":")[:2] for volume in nginx["volumes"])
    assert mounts["./nginx.conf"] == "/etc/nginx/conf.d/default.conf"
    for path in re.findall(r"ssl_certificate(?:_key)? (\S+);", conf):
        assert path.startswith(mounts["./certs"] + "/"), path
    for replica in re.findall(r"server (authapi-\d+):8000;", conf):
        assert replica in compose()["services"]
    assert {"80", "443"} == {port.rsplit(":", 1)[1] for port in nginx["ports"]}


def compose_available() -> bool:
    docker = shutil.which("docker")
    return docker is not None and subprocess.run(  # noqa: S603
        [docker, "compose", "version"], capture_output=True, check=False).returncode == 0


@pytest.mark.skipif(not compose_available(), reason="no `docker compose` on this machine")
def test_compose_file_is_valid():
    argv = [str(shutil.which("docker")), "compose", "-f", str(DEPLOY / "compose.yaml"),
            "config", "--quiet"]
    variables = {"AUTHAPI_SECRET_KEY": "x" * 64, "POSTGRES_PASSWORD": "x" * 32,
                 "AUTHAPI_MAIL_URL": "smtp://mail.example.com:25",
                 "ADMIN_EMAIL": "admin@example.com"}
    result = subprocess.run(argv, capture_output=True, text=True, check=False,  # noqa: S603
                            env={**os.environ, **variables})
    assert result.returncode == 0, result.stderr
