"""What the deployment tests share: the tools they run and the services' settings.

The tools (kubectl with its kustomize, docker-compose) are installed by `make
tools`, a prerequisite of `make test`. A missing tool fails the test: a check
that quietly skips on CI is no check."""

from __future__ import annotations

import importlib
import json
import shutil
import subprocess

import pytest

# Each gRPC service's settings module and environment prefix; the gateway's too.
SETTINGS = {
    "chain": ("sparrow_chain.config", "CHAIN_"),
    "generation": ("sparrow_generation.config", "GENERATION_"),
    "stems": ("sparrow_stems.config", "STEMS_"),
    "export": ("sparrow_export.config", "EXPORT_"),
    "analysis": ("sparrow_analysis.config", "ANALYSIS_"),
    "gateway": ("sparrow_gateway.config", "GATEWAY_"),
}


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `make tools` installs it (make test does so first)")
    return path


@pytest.fixture(scope="session")
def kubectl() -> str:
    """kubectl, whose built-in kustomize must read kustomize v5's syntax (labels,
    patches, components). Debian bookworm's kubernetes-client (1.20) carries
    kustomize v2.0.3, which can't."""
    path = _tool("kubectl")
    done = subprocess.run(
        [path, "version", "--client", "-o", "json"], capture_output=True, text=True, timeout=60
    )
    version = json.loads(done.stdout or "{}").get("kustomizeVersion", "")
    if not version.startswith(("v5", "v6")):
        pytest.fail(
            f"{path} carries kustomize {version or 'older than v3'}; the manifests need v5 (kubectl 1.27+)"
        )
    return path


@pytest.fixture(scope="session")
def docker_compose() -> str:
    return _tool("docker-compose")


@pytest.fixture(scope="session")
def settings():
    """service -> its Settings class and environment prefix."""
    found = {}
    for service, (module, prefix) in SETTINGS.items():
        found[service] = (importlib.import_module(module).Settings, prefix)
    return found


@pytest.fixture(scope="session")
def known_env(settings):
    """Every variable some service reads: each Settings field under its prefix,
    plus the few read outside the Settings classes."""
    names = {"SPARROW_LOG_FORMAT", "HF_HOME", "XDG_CACHE_HOME", "NUMBA_CACHE_DIR"}
    for cls, prefix in settings.values():
        names |= {prefix + field.upper() for field in cls.model_fields}
    return names
