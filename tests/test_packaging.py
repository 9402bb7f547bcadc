"""The built wheel carries the migrations, and they run without any alembic.ini (#19)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from authapi import migrations
from authapi.db import Model

PROJECT = Path(__file__).resolve().parents[1]
SCRIPTS = migrations.SCRIPT_LOCATION


@pytest.fixture(scope="module")
def wheel_files(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    """The names inside a wheel built from a copy of the checkout (its build/ stays clean)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(PROJECT / name, source / name)
    # A stale egg-info's SOURCES.txt would add files the tree no longer has.
    shutil.copytree(PROJECT / "src", source / "src",
                    ignore=shutil.ignore_patterns("*.egg-info", "__pycache__"))
    subprocess.run(  # noqa: S603
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check",
         "-w", str(tmp / "dist"), str(source)], check=True, timeout=300)
    (wheel,) = (tmp / "dist").glob("authapi-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def test_the_wheel_carries_every_migration_script(wheel_files):
    revisions = sorted(p.name for p in (SCRIPTS / "versions").glob("*.py"))
    assert len(revisions) >= 9
    expected = {"authapi/migrations/__init__.py", "authapi/migrations/env.py",
                "authapi/migrations/script.py.mako",
                *(f"authapi/migrations/versions/{name}" for name in revisions)}
    assert expected - wheel_files == set()


def test_the_wheel_carries_no_alembic_ini(wheel_files):
    assert not [name for name in wheel_files if name.endswith("alembic.ini")]


def test_the_config_names_the_package_scripts_and_no_ini_file():
    cfg = migrations.alembic_config("sqlite://")
    assert cfg.config_file_name is None
    assert Path(cfg.get_main_option("script_location") or "") == SCRIPTS
    assert (SCRIPTS / "env.py").is_file() and (SCRIPTS / "script.py.mako").is_file()


def test_upgrade_runs_from_a_folder_without_alembic_ini(tmp_path, monkeypatch):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    url = f"sqlite:///{tmp_path / 'packaged.db'}"
    migrations.upgrade(url)
    engine = create_engine(url)
    try:
        assert set(inspect(engine).get_table_names()) == {*Model.metadata.tables,
                                                          "alembic_version"}
        with engine.connect() as conn:
            (version,) = conn.execute(text("SELECT version_num FROM alembic_version")).one()
    finally:
        engine.dispose()
    assert version == ScriptDirectory.from_config(migrations.alembic_config(url)).get_current_head()
    assert list(elsewhere.iterdir()) == []  # nothing written into the working directory
