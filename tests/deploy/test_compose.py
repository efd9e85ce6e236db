"""docker-compose.yml (the whole system on one host, on CPU) and its GPU override,
checked through `docker-compose config`: the file as compose itself merges and
interpolates it, so what is asserted is what `up` would run."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest
import yaml

from sparrow_gateway.accounts import Accounts, Tier, entry, new_key

REPO = Path(__file__).resolve().parents[2]
GPU_WORKERS = ("generation", "stems")
SPARROW = ("chain", "generation", "stems", "export", "analysis", "gateway")
BASE = ("docker-compose.yml",)
WITH_GPU = ("docker-compose.yml", "docker-compose.gpu.yml")
API_KEYS = entry(new_key(), "ann", Tier.PAID)


def config(docker_compose: str, files: tuple[str, ...], **env: str) -> subprocess.CompletedProcess:
    """`docker-compose -f ... config` in a clean environment (no stray COMPOSE_* or
    GATEWAY_* from the caller's shell) plus `env`."""
    clean = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL")}
    args = [docker_compose, "--project-directory", str(REPO)]
    for name in files:
        args += ["-f", str(REPO / name)]
    return subprocess.run(
        [*args, "config"], capture_output=True, text=True, env={**clean, **env}, timeout=120
    )


def merged(docker_compose: str, files: tuple[str, ...]) -> dict:
    done = config(docker_compose, files, GATEWAY_API_KEYS=API_KEYS)
    assert done.returncode == 0, f"docker-compose config failed:\n{done.stderr}"
    return yaml.safe_load(done.stdout)


@pytest.fixture(scope="module")
def base(docker_compose) -> dict:
    return merged(docker_compose, BASE)


@pytest.fixture(scope="module")
def gpu(docker_compose) -> dict:
    return merged(docker_compose, WITH_GPU)


@pytest.fixture(params=["base", "gpu"])
def compose(request) -> dict:
    """Each test using this runs on docker-compose.yml alone and with the GPU override."""
    return request.getfixturevalue(request.param)


def env(compose: dict, service: str) -> dict[str, str]:
    return {k: str(v) for k, v in compose["services"][service].get("environment", {}).items()}


def seconds(duration: str) -> float:
    """compose's duration (`1m30s`, `45s`) in seconds."""
    parts = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", duration)
    assert parts and duration, f"unexpected duration {duration!r}"
    return int(parts[1] or 0) * 60 + int(parts[2] or 0)


def volume_for(compose: dict, service: str, path: str) -> str:
    """The volume (named or host folder) holding `path` in the service."""
    best = None
    for spec in compose["services"][service].get("volumes", []):
        source, target = spec.split(":")[:2] if isinstance(spec, str) else (spec["source"], spec["target"])
        if (path + "/").startswith(target.rstrip("/") + "/") and (best is None or len(target) > len(best[1])):
            best = (source, target)
    assert best, f"{path} is on no volume in {service}"
    return best[0]


def test_compose_refuses_to_start_without_api_keys(docker_compose):
    for files in (BASE, WITH_GPU):
        done = config(docker_compose, files)
        assert done.returncode != 0
        assert "GATEWAY_API_KEYS" in done.stderr


def test_the_gateway_takes_its_api_keys_from_the_environment(compose):
    keys = env(compose, "gateway")["GATEWAY_API_KEYS"]
    assert keys == API_KEYS
    assert len(Accounts(keys)) == 1


def test_the_gpu_override_reserves_one_gpu_for_each_gpu_worker_and_nothing_else(base, gpu):
    assert set(gpu["services"]) == set(base["services"])
    for name, service in gpu["services"].items():
        devices = service.get("deploy", {}).get("resources", {}).get("reservations", {}).get("devices", [])
        if name in GPU_WORKERS:
            assert devices == [{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}], name
        else:
            assert devices == [], name
        # Apart from the reservation, the override changes nothing.
        assert {k: v for k, v in service.items() if k != "deploy"} == base["services"][name]
    for service in base["services"].values():
        assert "deploy" not in service


def test_every_address_names_a_service_listening_there(compose):
    clients = {
        "chain": ("CHAIN_GENERATION_ADDR", "CHAIN_STEMS_ADDR", "CHAIN_EXPORT_ADDR", "CHAIN_ANALYSIS_ADDR"),
        "gateway": ("GATEWAY_CHAIN_ADDR", "GATEWAY_GENERATION_ADDRS", "GATEWAY_STEMS_ADDRS"),
    }
    for client, variables in clients.items():
        for variable in variables:
            for address in env(compose, client)[variable].split(","):
                host, _, port = address.strip().removeprefix("dns:///").rpartition(":")
                assert host in compose["services"], f"{variable}={address}: no service {host}"
                listening = env(compose, host)
                prefix = host.upper() + "_"
                assert listening[prefix + "HOST"] == "0.0.0.0", f"{host} listens on loopback only"
                assert listening[prefix + "PORT"] == port, f"{variable}={address}: {host} listens elsewhere"


def test_the_chain_offers_the_stems_models_the_stems_workers_load(compose):
    assert env(compose, "chain")["CHAIN_STEMS_MODELS"] == env(compose, "stems")["STEMS_MODELS"]


def test_every_variable_set_is_one_a_service_reads(compose, known_env):
    for name in SPARROW:
        unknown = set(env(compose, name)) - known_env
        assert not unknown, f"{name} sets variables no service reads (a typo?): {sorted(unknown)}"


def test_the_chain_keeps_its_state_in_postgres_and_a_blob_volume(compose):
    chain = env(compose, "chain")
    assert re.fullmatch(r"postgresql\+psycopg://\w+:[^@]+@postgres:5432/\w+", chain["CHAIN_DATABASE_URL"])
    assert compose["services"]["chain"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert volume_for(compose, "chain", chain["CHAIN_BLOB_DIR"]) in compose["volumes"]
    assert volume_for(compose, "postgres", "/var/lib/postgresql/data") in compose["volumes"]


def test_the_gpu_workers_find_their_models(compose):
    stems = env(compose, "stems")
    assert volume_for(compose, "stems", stems["STEMS_MODEL_DIR"]).endswith("/data/models")
    generation = env(compose, "generation")
    # Hub downloads survive a restart; a checkpoint folder can sit under ./data/models.
    assert volume_for(compose, "generation", generation["HF_HOME"]) in compose["volumes"]
    assert volume_for(compose, "generation", "/models").endswith("/data/models")


def test_only_the_gateway_publishes_a_port(compose):
    published = {name for name, service in compose["services"].items() if service.get("ports")}
    assert published == {"gateway"}
    (port,) = compose["services"]["gateway"]["ports"]
    assert str(port["target"]) == env(compose, "gateway")["GATEWAY_PORT"]


def test_containers_get_longer_to_stop_than_the_servers_grace(compose):
    graces = {}
    for name in SPARROW:
        graces[name] = float(env(compose, name)[f"{name.upper()}_GRACE_S"])
    for name, grace in graces.items():
        stop = compose["services"][name].get("stop_grace_period", "10s")
        assert seconds(stop) > grace, f"{name}: killed after {stop}, grace {grace}s"


def test_every_service_logs_json_and_serves_metrics(compose, settings):
    for name in SPARROW:
        assert env(compose, name)["SPARROW_LOG_FORMAT"] == "json"
    for name in ("chain", "generation", "stems", "export", "analysis"):
        cls, prefix = settings[name]
        assert int(env(compose, name)[prefix + "METRICS_PORT"]) == cls.model_fields["metrics_port"].default


def test_each_image_is_built_from_its_own_dockerfile(compose):
    for name in SPARROW:
        service = compose["services"][name]
        assert service["image"] == f"sparrow/{name}:latest"
        dockerfile = REPO / service["build"]["dockerfile"]
        assert dockerfile.is_file() and dockerfile.parent.name == name
