"""What the container files promise (docs/operations.md "Containers"), checked without Docker:
a multi-stage, non-root image on Debian's Python installing with the pins, and a compose stack of
service, worker, sweeper, PostgreSQL and Redis with health checks and one migration run."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


def stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped) per stage."""
    text = re.sub(r"\\\n\s*", " ", (ROOT / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines()]
    instructions = [line for line in lines if line and not line.startswith("#")]
    found: list[list[str]] = []
    for line in instructions:
        if line.upper().startswith("FROM "):
            found.append([])
        if found:
            found[-1].append(line)
    return found


def test_the_image_is_built_in_stages_on_debians_python():
    build, runtime = stages()
    assert re.match(r"FROM debian:\$\{DEBIAN\} AS build", build[0])
    assert re.match(r"FROM debian:\$\{DEBIAN\} AS runtime", runtime[0])
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG DEBIAN=bookworm-slim" in text  # bookworm's python3 is 3.11: durable-rules imports
    requires = re.search(
        r'requires-python = ">=3\.(\d+),<3\.(\d+)"', (ROOT / "pyproject.toml").read_text()
    )
    assert requires and int(requires[1]) <= 11 < int(requires[2])
    for stage in (build, runtime):
        assert any("python3.11" in line for line in stage if line.startswith("RUN"))
    # the compiler stays in the build stage
    assert any("build-essential" in line for line in build)
    assert not any("build-essential" in line or "gcc" in line for line in runtime)


def test_dependencies_are_installed_with_the_pins():
    build, _ = stages()
    copies = " ".join(line for line in build if line.startswith("COPY"))
    assert "constraints.txt" in copies and "pyproject.toml" in copies
    installs = [line for line in build if line.startswith("RUN") and "pip install" in line]
    assert installs and all(
        "-c constraints.txt" in part
        for line in installs
        for part in line.split("&&")
        if "pip install" in part
    )


def test_the_image_runs_as_an_unprivileged_user():
    _, runtime = stages()
    users = [line.split()[1] for line in runtime if line.startswith("USER ")]
    assert users, "no USER in the runtime stage"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    assert not user.isdigit() or int(user) >= 1000
    assert any(re.search(rf"useradd .*--uid {user}\b", line) for line in runtime)
    assert runtime[-1].startswith("CMD") and "serve" in runtime[-1] and "0.0.0.0" in runtime[-1]
    assert any(line.startswith('ENTRYPOINT ["tierwise"]') for line in runtime)


def test_the_build_context_leaves_out_local_state():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", "var", "tests"} <= ignored


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def command(service: dict[str, Any]) -> list[str]:
    return list(service.get("command") or [])


def test_compose_brings_up_every_part(compose):
    services = compose["services"]
    assert {"postgres", "redis", "migrate", "service", "worker", "sweeper"} <= set(services)
    assert command(services["migrate"]) == ["migrate"]
    assert command(services["service"])[:3] == ["serve", "--host", "0.0.0.0"]
    assert command(services["worker"])[0] == "worker"
    assert command(services["sweeper"])[:3] == ["sweep", "--every", "60"]
    assert services["migrate"]["restart"] == "no"  # runs once


@pytest.mark.parametrize(
    ("name", "probe"), [("postgres", "pg_isready"), ("redis", "redis-cli"), ("service", "/readyz")]
)
def test_compose_health_checks(compose, name, probe):
    check = compose["services"][name]["healthcheck"]
    assert probe in " ".join(check["test"])
    assert check["interval"] and check["retries"] >= 3


def test_the_app_waits_for_healthy_stores_and_the_migration(compose):
    for name in ("service", "worker", "sweeper"):
        after = compose["services"][name]["depends_on"]
        assert after["postgres"]["condition"] == "service_healthy", name
        assert after["redis"]["condition"] == "service_healthy", name
        assert after["migrate"]["condition"] == "service_completed_successfully", name
    assert (
        compose["services"]["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    )


def test_compose_sets_only_settings_tierwise_reads_and_requires_the_secrets(compose):
    settings = (ROOT / "config" / "settings.py").read_text()
    environment = compose["services"]["service"]["environment"]
    for name in environment:
        assert f'"{name}"' in settings, f"{name} is not a setting (config/settings.py)"
    assert environment["TIERWISE_MODE"] == "server"
    for secret in ("JWT_SECRET", "API_KEY_PEPPER", "QUOTE_SECRET", "STRIPE_SECRET_KEY"):
        assert re.fullmatch(rf"\$\{{{secret}:\?.+\}}", environment[secret]), secret
    for name in ("worker", "sweeper", "migrate"):
        assert compose["services"][name]["environment"] == environment
