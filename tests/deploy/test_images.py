"""The Dockerfiles, read as instructions (there is no Docker engine here to build
them), and the dependency trees that decide what goes into each image."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
DOCKERFILES = {
    "chain": REPO / "services/chain/Dockerfile",
    "generation": REPO / "services/generation/Dockerfile",
    "stems": REPO / "services/stems/Dockerfile",
    "export": REPO / "services/export/Dockerfile",
    "analysis": REPO / "services/analysis/Dockerfile",
    "gateway": REPO / "gateway/Dockerfile",
}
DISTRIBUTIONS = {name: f"sparrow-{name}" for name in DOCKERFILES}
# What a CUDA torch install brings with it.
TORCH = re.compile(r"^(torch|torchaudio|torchvision|triton|nvidia-.*)$")


def stages(dockerfile: Path) -> list[list[tuple[str, str]]]:
    """The file's build stages, each a list of (INSTRUCTION, arguments), comments
    dropped and continued lines joined."""
    text = re.sub(r"\\\n(\s*#.*\n)*", " ", dockerfile.read_text())
    found: list[list[tuple[str, str]]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, args = line.partition(" ")
        if instruction.upper() == "FROM":
            found.append([])
        if found:
            found[-1].append((instruction.upper(), " ".join(args.split())))
    return found


def arguments(stage: list[tuple[str, str]], instruction: str) -> list[str]:
    return [args for name, args in stage if name == instruction]


@pytest.mark.parametrize("name", DOCKERFILES)
def test_the_grpc_code_is_generated_in_a_builder_stage_and_left_there(name):
    found = stages(DOCKERFILES[name])
    assert len(found) >= 2, "multi-stage"
    builder = next(stage for stage in found if any("protos/generate.sh" in run for run in arguments(stage, "RUN")))
    final = found[-1]
    assert any("grpcio-tools" in run for run in arguments(builder, "RUN"))
    # The final stage takes the built environment and nothing of the build's tools.
    assert arguments(final, "COPY") == ["--from=builder /venv /venv"]
    assert not any("grpcio-tools" in run or "pip install" in run for run in arguments(final, "RUN"))


def test_the_gateway_image_serves_the_editor_without_a_cdn():
    found = stages(DOCKERFILES["gateway"])
    web = found[0]
    assert any("npm ci --omit=dev" in run for run in arguments(web, "RUN")), "wavesurfer.js from the lockfile"
    copies = [c for stage in found for c in arguments(stage, "COPY")]
    assert any(c.startswith("--from=web ") and c.endswith("web/vendor/") for c in copies)


@pytest.mark.parametrize("name", DOCKERFILES)
def test_each_image_runs_as_a_numeric_non_root_user(name):
    final = stages(DOCKERFILES[name])[-1]
    users = arguments(final, "USER")
    assert users, "no USER: the image would run as root"
    uid, _, gid = users[-1].partition(":")
    # Numeric, so that the kubelet can check runAsNonRoot; the same uid the pods run as.
    assert uid == "10001" and gid in ("", "10001")
    assert any("--uid 10001" in run for run in arguments(final, "RUN"))


@pytest.mark.parametrize("name", DOCKERFILES)
def test_no_image_carries_a_healthcheck(name):
    # Kubernetes probes health itself (grpc.health.v1, /healthz and /readyz).
    assert all(not arguments(stage, "HEALTHCHECK") for stage in stages(DOCKERFILES[name]))


@pytest.mark.parametrize("name", DOCKERFILES)
def test_each_image_exposes_its_ports_and_listens_on_all_interfaces(name, settings):
    final = stages(DOCKERFILES[name])[-1]
    cls, prefix = settings[name]
    exposed = {int(port) for args in arguments(final, "EXPOSE") for port in args.split()}
    wanted = {cls.model_fields["port"].default}
    if "metrics_port" in cls.model_fields:
        wanted.add(cls.model_fields["metrics_port"].default)
    assert exposed == wanted
    env = " ".join(arguments(final, "ENV"))
    assert f"{prefix}HOST=0.0.0.0" in env
    assert arguments(final, "CMD") == [f'["python", "-m", "sparrow_{name}"]']


def test_the_stems_image_installs_demucs_as_the_makefile_does():
    """One pin for both, from one file, installed without demucs's declared dependencies."""
    nodeps = "services/stems/requirements-nodeps.txt"
    assert re.search(r"^demucs==[\d.]+$", (REPO / nodeps).read_text(), re.MULTILINE)
    assert f"--no-deps -r {nodeps}" in (REPO / "Makefile").read_text()
    (builder, *_) = stages(DOCKERFILES["stems"])
    runs = arguments(builder, "RUN")
    (install,) = [i for i, run in enumerate(runs) if re.search(rf"pip install .*--no-deps -r {nodeps}", run)]
    # With the third-party layer, before any source is copied: a code change doesn't fetch it again.
    assert install < next(i for i, run in enumerate(runs) if "generate.sh" in run)


def test_the_build_context_leaves_out_the_local_environment():
    ignored = (REPO / ".dockerignore").read_text().split()
    for path in (".venv", "node_modules", "data", ".git", "protos/gen"):
        assert path in ignored


def requirements_of(distribution: str) -> set[str]:
    """Every distribution `distribution` needs, transitively, as installed here:
    pipdeptree's walk, with environment markers and extras honoured."""
    seen: set[str] = set()
    walked: set[tuple[str, frozenset[str]]] = set()

    def walk(name: str, extras: frozenset[str]) -> None:
        key = canonicalize_name(name)
        if (key, extras) in walked:
            return
        walked.add((key, extras))
        try:
            dist = metadata.distribution(key)
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name} is not installed (make install)")
        seen.add(key)
        for line in dist.requires or []:
            requirement = Requirement(line)
            if requirement.marker and not any(
                requirement.marker.evaluate({"extra": extra}) for extra in (extras or {""})
            ):
                continue
            walk(requirement.name, frozenset(requirement.extras))

    walk(distribution, frozenset())
    return seen


@pytest.mark.parametrize("name", ["chain", "export", "gateway"])
def test_the_cpu_images_hold_no_torch(name):
    pulled = sorted(p for p in requirements_of(DISTRIBUTIONS[name]) if TORCH.match(p))
    assert pulled == [], f"sparrow-{name} pulls {pulled} into its image"


@pytest.mark.parametrize("name", ["generation", "stems"])
def test_the_walk_finds_torch_where_it_is(name):
    assert "torch" in requirements_of(DISTRIBUTIONS[name])
