"""The Kubernetes manifests, checked as an operator would before applying them:
each kustomization rendered by kubectl's kustomize, every object validated
offline against the Kubernetes 1.30 schemas in strict mode (unknown fields are
errors), then read for what breaks a deployment when it is wrong."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"
GRPC_SERVICES = ("chain", "generation", "stems", "export", "analysis")
GPU_WORKERS = ("generation", "stems")
SERVICES = (*GRPC_SERVICES, "gateway")
# The client settings that name another service, and the Service each must reach.
CHAIN_CLIENTS = {
    "CHAIN_GENERATION_ADDR": "generation",
    "CHAIN_STEMS_ADDR": "stems",
    "CHAIN_EXPORT_ADDR": "export",
    "CHAIN_ANALYSIS_ADDR": "analysis",
}
GATEWAY_CLIENTS = {
    "GATEWAY_CHAIN_ADDR": "chain",
    "GATEWAY_GENERATION_ADDRS": "generation",
    "GATEWAY_STEMS_ADDRS": "stems",
}


class Manifests:
    """The objects one kustomization renders, looked up by kind and name."""

    def __init__(self, docs: list[dict]):
        self.docs = docs

    def all(self, kind: str) -> list[dict]:
        return [d for d in self.docs if d["kind"] == kind]

    def get(self, kind: str, name: str) -> dict:
        found = [d for d in self.all(kind) if d["metadata"]["name"] == name]
        assert len(found) == 1, f"expected one {kind} named {name}, found {len(found)}"
        return found[0]

    def pod(self, name: str) -> dict:
        return self.get("Deployment", name)["spec"]["template"]

    def container(self, name: str) -> dict:
        (container,) = self.pod(name)["spec"]["containers"]
        return container

    def ports(self, name: str) -> dict[str, int]:
        """The Deployment's container ports, by name."""
        return {p["name"]: p["containerPort"] for p in self.container(name)["ports"]}

    def env(self, name: str) -> dict[str, dict]:
        return {e["name"]: e for e in self.container(name).get("env", [])}

    def value(self, name: str, variable: str) -> str:
        entry = self.env(name)[variable]
        assert "value" in entry, f"{name}: {variable} should be a plain value"
        return entry["value"]


def render(kubectl: str, directory: Path) -> Manifests:
    done = subprocess.run([kubectl, "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"kubectl kustomize {directory} failed:\n{done.stderr}"
    return Manifests([d for d in yaml.safe_load_all(done.stdout) if d])


def overlay(tmp_path: Path, body: str) -> Path:
    """A throwaway kustomization over the base; kustomize wants relative paths."""
    base = os.path.relpath(K8S / "base", tmp_path)
    (tmp_path / "kustomization.yaml").write_text(
        body.replace("BASE", base).replace("K8S", os.path.relpath(K8S, tmp_path))
    )
    return tmp_path


@pytest.fixture(scope="module")
def base(kubectl) -> Manifests:
    return render(kubectl, K8S / "base")


@pytest.fixture(scope="module")
def gpu(kubectl) -> Manifests:
    return render(kubectl, K8S / "overlays" / "gpu")


@pytest.fixture(params=["base", "gpu"])
def rendered(request) -> Manifests:
    """Each test using this runs on the base and on the GPU overlay."""
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module")
def with_ingress(kubectl, tmp_path_factory) -> Manifests:
    folder = overlay(
        tmp_path_factory.mktemp("ingress"), "resources:\n  - BASE\ncomponents:\n  - K8S/components/ingress\n"
    )
    return render(kubectl, folder)


@pytest.fixture(scope="module")
def queue_autoscaling(kubectl, tmp_path_factory) -> Manifests:
    folder = overlay(
        tmp_path_factory.mktemp("queue"),
        "resources:\n  - K8S/overlays/gpu\ncomponents:\n  - K8S/components/queue-autoscaling\n",
    )
    return render(kubectl, folder)


def validate(docs: list[dict]) -> None:
    failures = []
    for doc in docs:
        where = f"{doc.get('kind')}/{doc.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            failures.append(f"{where}: {'.'.join(map(str, error.path))}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            failures.append(f"{where}: {error.message}")
    assert not failures, "\n".join(failures)


# --- the manifests are valid Kubernetes


@pytest.mark.parametrize("kustomization", ["base", "gpu", "with_ingress", "queue_autoscaling"])
def test_every_object_passes_strict_schema_validation(kustomization, request):
    manifests = request.getfixturevalue(kustomization)
    assert len(manifests.docs) >= 15
    validate(manifests.docs)


def test_the_example_secrets_pass_strict_schema_validation():
    validate(list(yaml.safe_load_all((K8S / "examples" / "secrets.example.yaml").read_text())))


def test_a_mistyped_field_fails_validation():
    """The validator really is strict and really has the schemas: else the tests above prove nothing."""
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {},
            "template": {"spec": {"containers": [{"name": "x", "imagePullPolicyy": "Always"}]}},
        },
    }
    with pytest.raises(AssertionError, match="imagePullPolicyy"):
        validate([deployment])


def test_each_service_has_a_deployment_and_a_service(rendered):
    for name in SERVICES:
        deployment = rendered.get("Deployment", name)
        service = rendered.get("Service", name)
        assert (
            service["spec"]["selector"].items()
            <= deployment["spec"]["template"]["metadata"]["labels"].items()
        )
        assert deployment["metadata"]["namespace"] == "sparrow"


def test_the_chain_offers_the_stems_models_the_stems_workers_load(rendered):
    offered = rendered.env("chain")["CHAIN_STEMS_MODELS"]["value"]
    assert offered == rendered.env("stems")["STEMS_MODELS"]["value"]
    assert offered.split(",")[0] == "htdemucs"  # four stems by default


def test_every_variable_set_is_one_a_service_reads(rendered, known_env):
    for name in SERVICES:
        unknown = set(rendered.env(name)) - known_env
        assert not unknown, f"{name} sets variables no service reads (a typo?): {sorted(unknown)}"


# --- GPUs


def test_the_gpu_overlay_gives_each_gpu_worker_one_gpu_and_no_other_pod_any(gpu):
    for name in SERVICES:
        resources = gpu.container(name)["resources"]
        wanted = {"nvidia.com/gpu": 1} if name in GPU_WORKERS else {}
        for side in ("requests", "limits"):
            got = {k: v for k, v in resources.get(side, {}).items() if k == "nvidia.com/gpu"}
            assert got == wanted, f"{name} {side}"
    for name in GPU_WORKERS:
        assert gpu.value(name, f"{name.upper()}_DEVICE") == "cuda"


def test_the_base_runs_on_cpu(base):
    for deployment in base.all("Deployment"):
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            for side in ("requests", "limits"):
                assert "nvidia.com/gpu" not in container["resources"].get(side, {})
    for name in GPU_WORKERS:
        assert base.value(name, f"{name.upper()}_DEVICE") == "cpu"


# --- Services and addresses


def test_gpu_workers_and_export_have_headless_services(rendered):
    for name in ("generation", "stems", "export"):
        assert rendered.get("Service", name)["spec"].get("clusterIP") == "None", name
    # The gateway's Service is a normal one: browsers (through the Ingress) need one address.
    assert rendered.get("Service", "gateway")["spec"].get("clusterIP") != "None"


def _service_port_to(manifests: Manifests, name: str, port: int) -> None:
    """The Service `name` has `port`, and that port leads to its Deployment's port
    named grpc (that the Service selects the Deployment's pods is checked above)."""
    by_port = {p["port"]: p for p in manifests.get("Service", name)["spec"]["ports"]}
    assert port in by_port, f"Service {name} has no port {port}"
    target = by_port[port]["targetPort"]
    assert target in ("grpc", _grpc_port(manifests, name)), f"{name}:{port} doesn't lead to the grpc port"


def test_the_chain_reaches_each_worker_by_a_dns_name_of_its_service(rendered):
    for variable, target in CHAIN_CLIENTS.items():
        address = rendered.value("chain", variable)
        assert address.startswith("dns:///"), f"{variable}={address}: the channel must resolve every pod"
        host, _, port = address.removeprefix("dns:///").rpartition(":")
        name = host.split(".")[0]
        assert name == target and host in (name, f"{name}.sparrow", f"{name}.sparrow.svc.cluster.local"), (
            address
        )
        _service_port_to(rendered, name, int(port))


def test_the_gateway_reaches_the_chain_and_asks_every_worker(rendered):
    for variable, target in GATEWAY_CLIENTS.items():
        for address in rendered.value("gateway", variable).split(","):
            host, _, port = address.strip().removeprefix("dns:///").rpartition(":")
            assert host.split(".")[0] == target, address
            _service_port_to(rendered, target, int(port))


# --- probes and shutdown


def _grpc_port(manifests: Manifests, name: str) -> int:
    ports = manifests.ports(name)
    assert "grpc" in ports, f"{name} has no port named grpc"
    return ports["grpc"]


def test_every_grpc_container_probes_grpc_health_on_its_grpc_port(rendered, settings):
    for name in GRPC_SERVICES:
        container = rendered.container(name)
        port = _grpc_port(rendered, name)
        cls, prefix = settings[name]
        assert port == int(rendered.value(name, f"{prefix}PORT")) == cls.model_fields["port"].default
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            spec = container.get(probe)
            assert spec and "grpc" in spec, f"{name} has no grpc {probe}"
            assert spec["grpc"]["port"] == port, f"{name} {probe}"
            # The overall server's health (""), which every service reports.
            assert spec["grpc"].get("service", "") == ""


def test_a_gpu_worker_slow_to_load_its_model_is_not_killed(rendered):
    for name in GPU_WORKERS:
        container = rendered.container(name)
        startup = container["startupProbe"]
        budget = startup.get("periodSeconds", 10) * startup.get("failureThreshold", 3)
        assert budget >= 600, f"{name} gets only {budget}s to load its model"
        # Liveness waits for the startup probe; it must not carry its own short fuse.
        assert container["livenessProbe"].get("initialDelaySeconds", 0) == 0


def test_the_gateway_is_live_on_healthz_and_ready_on_readyz(rendered):
    container = rendered.container("gateway")
    ports = rendered.ports("gateway")
    assert ports["http"] == int(rendered.value("gateway", "GATEWAY_PORT"))
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in ("http", ports["http"])


def _pre_stop_s(container: dict) -> float:
    command = container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
    return float(command[1]) if command[:1] == ["sleep"] else 0.0


def test_pods_get_longer_to_stop_than_the_servers_grace(rendered):
    graces = {}
    for name in ("gateway", *GRPC_SERVICES):
        # Set explicitly, so the pod's grace is measured against what the server really uses.
        graces[name] = float(rendered.value(name, f"{name.upper()}_GRACE_S"))
    for name, grace in graces.items():
        pod_grace = rendered.pod(name)["spec"]["terminationGracePeriodSeconds"]
        container = rendered.container(name)
        assert pod_grace > grace + _pre_stop_s(container), f"{name}: {pod_grace}s for a {grace}s grace"


# --- secrets and storage


def test_secrets_come_from_secrets_the_example_names(rendered):
    example = {
        (doc["metadata"]["name"], key)
        for doc in yaml.safe_load_all((K8S / "examples" / "secrets.example.yaml").read_text())
        for key in doc["stringData"]
    }
    for name, variable in (("chain", "CHAIN_DATABASE_URL"), ("gateway", "GATEWAY_API_KEYS")):
        ref = rendered.env(name)[variable].get("valueFrom", {}).get("secretKeyRef")
        assert ref, f"{variable} must come from a Secret"
        assert (ref["name"], ref["key"]) in example
    # No Secret with a placeholder is rendered: the real ones are made outside git.
    assert rendered.all("Secret") == []


def _mount_for(manifests: Manifests, name: str, path: str) -> tuple[dict, dict]:
    """The volume mount holding `path` in the Deployment's container, and its volume."""
    mounts = [
        m
        for m in manifests.container(name)["volumeMounts"]
        if (path + "/").startswith(m["mountPath"].rstrip("/") + "/")
    ]
    assert mounts, f"{path} is on no volume in {name}"
    mount = max(mounts, key=lambda m: len(m["mountPath"]))
    volumes = {v["name"]: v for v in manifests.pod(name)["spec"]["volumes"]}
    return mount, volumes[mount["name"]]


def test_blobs_are_on_a_read_write_many_claim(rendered):
    mount, volume = _mount_for(rendered, "chain", rendered.value("chain", "CHAIN_BLOB_DIR"))
    assert not mount.get("readOnly")
    claim = rendered.get("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
    assert "ReadWriteMany" in claim["spec"]["accessModes"], "every chain replica writes the blobs"


def test_gpu_workers_read_their_models_from_a_shared_claim(rendered):
    for name, variable in (("generation", "GENERATION_MODEL"), ("stems", "STEMS_MODEL_DIR")):
        mount, volume = _mount_for(rendered, name, rendered.value(name, variable))
        assert mount.get("readOnly") is True
        claim = rendered.get("PersistentVolumeClaim", volume["persistentVolumeClaim"]["claimName"])
        assert {"ReadWriteMany", "ReadOnlyMany"} & set(claim["spec"]["accessModes"])
    # The hub cache is writable (an emptyDir) though the root filesystem is not.
    _, cache = _mount_for(rendered, "generation", rendered.value("generation", "HF_HOME"))
    assert "emptyDir" in cache


# --- scaling


def test_an_autoscaler_scales_each_gpu_worker(rendered):
    targets = {hpa["spec"]["scaleTargetRef"]["name"]: hpa for hpa in rendered.all("HorizontalPodAutoscaler")}
    assert set(targets) == set(GPU_WORKERS)
    for name, hpa in targets.items():
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert hpa["spec"]["scaleTargetRef"]["kind"] == "Deployment"
        assert 1 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        # An applied replica count would fight the autoscaler.
        assert "replicas" not in rendered.get("Deployment", name)["spec"]


def scaled_on(hpa) -> set[str]:
    assert all(metric["type"] == "Pods" for metric in hpa["spec"]["metrics"])
    return {metric["pods"]["metric"]["name"] for metric in hpa["spec"]["metrics"]}


def test_the_gpu_workers_can_scale_on_the_work_in_them(queue_autoscaling):
    """Generation on the share of its decoder rows in flight and on calls
    waiting; stems on calls waiting."""
    expected = {
        "generation": {"sparrow_generation_rows_busy_ratio", "sparrow_worker_queued"},
        "stems": {"sparrow_worker_queued"},
    }
    for name in GPU_WORKERS:
        hpa = queue_autoscaling.get("HorizontalPodAutoscaler", name)
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        assert scaled_on(hpa) == expected[name]


def test_prometheus_adapter_serves_every_metric_the_autoscalers_name(queue_autoscaling):
    """The adapter's rules (Helm values shipped with the component) turn a series
    the workers export into the pods metric each autoscaler reads."""
    import re

    import sparrow_common.metrics  # noqa: F401 - the workers' gauges
    import sparrow_generation.metrics  # noqa: F401 - the generation worker's own
    from prometheus_client import REGISTRY

    exported = {family.name for family in REGISTRY.collect()}
    values_file = K8S / "components" / "queue-autoscaling" / "prometheus-adapter-values.yaml"
    values = yaml.safe_load(values_file.read_text())
    served = {}
    for rule in values["rules"]["custom"]:
        series = re.match(r"^(\w+)\{", rule["seriesQuery"]).group(1)
        assert series in exported, series
        per_pod = {"namespace": {"resource": "namespace"}, "pod": {"resource": "pod"}}
        assert rule["resources"]["overrides"] == per_pod
        assert re.search(rule["name"]["matches"], series)
        assert "<<.Series>>" in rule["metricsQuery"] and "<<.LabelMatchers>>" in rule["metricsQuery"]
        # Every other series the query reads is exported too, per pod like the first.
        for other in re.findall(r"(sparrow_\w+)\{<<.LabelMatchers>>\}", rule["metricsQuery"]):
            assert other in exported, other
        served[rule["name"]["as"]] = series
    for name in GPU_WORKERS:
        assert scaled_on(queue_autoscaling.get("HorizontalPodAutoscaler", name)) <= set(served)


def test_the_chain_and_the_gateway_run_two_replicas(rendered):
    for name in ("chain", "gateway"):
        assert rendered.get("Deployment", name)["spec"]["replicas"] == 2


# --- security, metrics, logs, images


def test_every_pod_meets_the_restricted_pod_security_standard(rendered):
    namespace = rendered.get("Namespace", "sparrow")
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    for name in SERVICES:
        pod = rendered.pod(name)["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        # The images' USER: a numeric uid lets the kubelet check runAsNonRoot.
        assert pod["securityContext"]["runAsUser"] == 10001
        assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
        assert pod["automountServiceAccountToken"] is False
        context = rendered.container(name)["securityContext"]
        assert context["allowPrivilegeEscalation"] is False
        assert context["readOnlyRootFilesystem"] is True
        assert context["capabilities"]["drop"] == ["ALL"]
        # Python and the libraries it loads want a writable /tmp.
        mount, volume = _mount_for(rendered, name, "/tmp")
        assert "emptyDir" in volume


def test_every_service_serves_metrics_where_prometheus_is_told_to_look(rendered, settings):
    for name in GRPC_SERVICES:
        cls, prefix = settings[name]
        assert rendered.value(name, f"{prefix}HOST") == "0.0.0.0"
        port = int(rendered.value(name, f"{prefix}METRICS_PORT"))
        ports = rendered.ports(name)
        assert ports["metrics"] == port == cls.model_fields["metrics_port"].default
        annotations = rendered.pod(name)["metadata"]["annotations"]
        assert annotations == {
            "prometheus.io/scrape": "true",
            "prometheus.io/port": str(port),
            "prometheus.io/path": "/metrics",
        }
    # The gateway's metrics have a port of their own, never the public one.
    annotations = rendered.pod("gateway")["metadata"]["annotations"]
    port = rendered.value("gateway", "GATEWAY_METRICS_PORT")
    ports = rendered.ports("gateway")
    assert annotations["prometheus.io/port"] == port == str(ports["metrics"]) != rendered.value("gateway", "GATEWAY_PORT")
    assert annotations["prometheus.io/path"] == "/metrics"
    assert rendered.value("gateway", "GATEWAY_HOST") == "0.0.0.0"


def test_every_service_logs_json(rendered):
    for name in SERVICES:
        assert rendered.value(name, "SPARROW_LOG_FORMAT") == "json"


def test_a_release_tag_is_set_in_one_place(kubectl, tmp_path):
    images = "".join(
        f"  - name: sparrow/{name}\n    newName: registry.example.com/sparrow/{name}\n    newTag: 1.2.3\n"
        for name in SERVICES
    )
    manifests = render(kubectl, overlay(tmp_path, f"resources:\n  - BASE\nimages:\n{images}"))
    for name in SERVICES:
        assert manifests.container(name)["image"] == f"registry.example.com/sparrow/{name}:1.2.3"


def test_the_ingress_streams_events_unbuffered_to_the_gateway(with_ingress):
    (ingress,) = with_ingress.all("Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/proxy-buffering"] == "off"
    (rule,) = ingress["spec"]["rules"]
    (path,) = rule["http"]["paths"]
    backend = path["backend"]["service"]
    assert backend["name"] == "gateway"
    gateway_ports = {p.get("name") for p in with_ingress.get("Service", "gateway")["spec"]["ports"]}
    assert backend["port"]["name"] in gateway_ports
    # Behind TLS the session cookie is Secure.
    assert with_ingress.value("gateway", "GATEWAY_SECURE_COOKIES") == "true"
