"""deploy/k8s renders, every object it renders is valid against the Kubernetes schemas, and every
service runs there as the rest of the system runs it — offline: no cluster, kubectl or kustomize.

Rendering is done here, for the subset of kustomize the kustomization uses (`resources`, `namespace`,
`labels` without selectors or templates, `images`); anything else in a kustomization.yaml is refused,
so the subset cannot silently drift from what `kubectl apply -k` does. Where a `kustomize` binary is on
the path, its output is compared with this one. The schemas are the ones `kubernetes-validate` ships
(strict: an unknown field is an error, as `kubectl apply --validate=strict` would say).
"""
from __future__ import annotations

import copy
import pathlib
import shutil
import subprocess

import kubernetes_validate
import pytest
import yaml

from common import probe
from common.topology import BACKENDS, NAMES, service

ROOT = pathlib.Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
KUBERNETES_VERSION = "1.30"  # the oldest minor release the manifests are for
KUSTOMIZE_FIELDS = {"apiVersion", "kind", "namespace", "labels", "resources", "images"}
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "PersistentVolume", "StorageClass",
                  "PriorityClass", "CustomResourceDefinition"}


# ---- the renderer ---------------------------------------------------------------------------------

class KustomizeError(Exception):
    pass


def split_image(image: str) -> tuple[str, str]:
    """``name[:tag|@digest]`` → (name, the rest with its separator); a registry port is not a tag."""
    if "@" in image:
        name, digest = image.split("@", 1)
        return name, "@" + digest
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        return image[:colon], image[colon:]
    return image, ""


def pod_specs(obj: dict) -> list[dict]:
    spec = obj.get("spec", {})
    if obj["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    template = spec.get("template", {}).get("spec")
    return [template] if template else []


def containers(obj: dict) -> list[dict]:
    return [c for pod in pod_specs(obj) for c in (*pod.get("initContainers", []), *pod.get("containers", []))]


def render(folder: pathlib.Path) -> list[dict]:
    """What `kustomize build folder` gives for the subset of kustomize used here."""
    path = folder / "kustomization.yaml"
    if not path.exists():
        raise KustomizeError(f"{folder}: no kustomization.yaml")
    kustomization = yaml.safe_load(path.read_text())
    unknown = set(kustomization) - KUSTOMIZE_FIELDS
    if unknown:
        raise KustomizeError(f"{path}: not rendered by this test: {sorted(unknown)}")
    if kustomization.get("kind", "Kustomization") != "Kustomization":
        raise KustomizeError(f"{path}: kind {kustomization['kind']}")
    objects: list[dict] = []
    for resource in kustomization.get("resources", []):
        target = folder / resource
        if target.is_dir():
            objects += render(target)
        elif target.is_file():
            objects += [doc for doc in yaml.safe_load_all(target.read_text()) if doc is not None]
        else:
            raise KustomizeError(f"{path}: no such resource {resource}")
    for obj in objects:
        if not isinstance(obj, dict) or "kind" not in obj or "name" not in obj.get("metadata", {}):
            raise KustomizeError(f"{path}: not a Kubernetes object: {str(obj)[:80]}")
        metadata = obj["metadata"]
        if kustomization.get("namespace") and obj["kind"] not in CLUSTER_SCOPED:
            metadata["namespace"] = kustomization["namespace"]
        for entry in kustomization.get("labels", []):
            if entry.get("includeSelectors") or entry.get("includeTemplates") or set(entry) - {
                    "pairs", "includeSelectors", "includeTemplates"}:
                raise KustomizeError(f"{path}: labels beyond metadata are not rendered here: {entry}")
            metadata["labels"] = {**metadata.get("labels", {}), **entry["pairs"]}
        for image in kustomization.get("images", []):
            for container in containers(obj):
                name, tag = split_image(container["image"])
                if name == image["name"]:
                    tag = f":{image['newTag']}" if "newTag" in image else tag
                    tag = f"@{image['digest']}" if "digest" in image else tag
                    container["image"] = image.get("newName", name) + tag
    seen = set()
    for obj in objects:
        key = (obj["kind"], obj["metadata"].get("namespace"), obj["metadata"]["name"])
        if key in seen:
            raise KustomizeError(f"{path}: {key} twice")
        seen.add(key)
    return objects


def validation_errors(obj: dict, version: str = KUBERNETES_VERSION) -> str | None:
    try:
        kubernetes_validate.validate(obj, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        return f"{'.'.join(map(str, exc.path))}: {exc.message}"
    except kubernetes_validate.SchemaNotFoundError as exc:
        return exc.message
    return None


def name_of(obj: dict) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


RENDERED = render(K8S)


def of_kind(kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in RENDERED if obj["kind"] == kind}


DEPLOYMENTS = of_kind("Deployment")
WORKLOADS = [*DEPLOYMENTS.values(), *of_kind("Job").values()]


# ---- validity --------------------------------------------------------------------------------------

@pytest.mark.parametrize("obj", RENDERED, ids=name_of)
def test_every_rendered_object_is_valid_kubernetes(obj):
    for version in (KUBERNETES_VERSION, kubernetes_validate.latest_version()):
        assert validation_errors(obj, version) is None, version
    assert obj["metadata"]["namespace"] == "dcm"
    assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == "dcm"


def test_the_secret_template_is_valid_and_holds_every_key_the_workloads_read():
    template = yaml.safe_load((K8S / "secret.example.yaml").read_text())
    assert validation_errors(template) is None
    referenced = {(env["valueFrom"]["secretKeyRef"]["name"], env["valueFrom"]["secretKeyRef"]["key"])
                  for workload in WORKLOADS for container in containers(workload)
                  for env in container.get("env", []) if "secretKeyRef" in env.get("valueFrom", {})}
    assert referenced == {(template["metadata"]["name"], key) for key in template["stringData"]}
    assert "secret.example.yaml" not in (K8S / "kustomization.yaml").read_text().split("resources:")[1]


def break_a_field_name(objects):
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["livenesProbe"] = container.pop("livenessProbe")


def break_a_type(objects):
    next(o for o in objects if o["kind"] == "Deployment")["spec"]["replicas"] = "two"


def break_a_required_field(objects):
    next(o for o in objects if o["kind"] == "Deployment")["spec"]["template"]["spec"].pop("containers")


def break_the_api_version(objects):
    next(o for o in objects if o["kind"] == "HorizontalPodAutoscaler")["apiVersion"] = "autoscaling/v3"


def break_a_service_port(objects):
    next(o for o in objects if o["kind"] == "Service")["spec"]["ports"][0]["port"] = "eighty"


@pytest.mark.parametrize("breakage", [break_a_field_name, break_a_type, break_a_required_field,
                                      break_the_api_version, break_a_service_port])
def test_a_broken_manifest_is_refused(breakage):
    objects = copy.deepcopy(RENDERED)
    breakage(objects)
    assert [name_of(o) for o in objects if validation_errors(o)], breakage.__name__


@pytest.mark.parametrize("kustomization, resources, error", [
    ("resources: [a.yaml]\npatches: [{path: p.yaml}]\n", {"a.yaml": ""}, "not rendered by this test"),
    ("resources: [missing.yaml]\n", {}, "no such resource"),
    ("resources: [a.yaml]\n", {"a.yaml": "kind: ConfigMap\nmetadata: {name: x}\n---\n"
                                          "kind: ConfigMap\nmetadata: {name: x}\n"}, "twice"),
    ("resources: [a.yaml]\nlabels: [{pairs: {a: b}, includeSelectors: true}]\n",
     {"a.yaml": "kind: ConfigMap\nmetadata: {name: x}\n"}, "labels beyond metadata"),
])
def test_the_renderer_refuses_what_it_does_not_render(tmp_path, kustomization, resources, error):
    (tmp_path / "kustomization.yaml").write_text(kustomization)
    for name, text in resources.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(KustomizeError, match=error):
        render(tmp_path)


def test_the_renderer_applies_namespace_labels_and_images(tmp_path):
    (tmp_path / "base").mkdir()
    (tmp_path / "base" / "kustomization.yaml").write_text("resources: [job.yaml]\n")
    (tmp_path / "base" / "job.yaml").write_text(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {name: j, namespace: other}\n"
        "spec: {template: {spec: {containers: [{name: c, image: 'localhost:5000/app:1'},"
        " {name: d, image: 'app'}]}}}\n")
    (tmp_path / "kustomization.yaml").write_text(
        "namespace: prod\nlabels: [{pairs: {team: ops}}]\nresources: [base]\n"
        "images: [{name: 'localhost:5000/app', newTag: '2'}, {name: app, newName: r.io/app, newTag: '3'}]\n")
    [job] = render(tmp_path)
    assert job["metadata"] == {"name": "j", "namespace": "prod", "labels": {"team": "ops"}}
    assert [c["image"] for c in containers(job)] == ["localhost:5000/app:2", "r.io/app:3"]


@pytest.mark.skipif(shutil.which("kustomize") is None, reason="no kustomize binary on this machine")
def test_kustomize_itself_renders_the_same_objects():
    output = subprocess.run(["kustomize", "build", str(K8S)], capture_output=True, text=True, check=True)
    theirs = sorted((d for d in yaml.safe_load_all(output.stdout) if d), key=name_of)
    assert theirs == sorted(RENDERED, key=name_of)


# ---- the system as it runs elsewhere --------------------------------------------------------------

def test_every_service_has_a_deployment_running_its_start_command():
    assert sorted(DEPLOYMENTS) == sorted(NAMES)
    for name, deployment in DEPLOYMENTS.items():
        [container] = deployment["spec"]["template"]["spec"]["containers"]
        assert container["command"] == ["/app/deploy/start-service", name]  # as Procfile and compose
        env = {e["name"]: e for e in container["env"]}
        assert env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"] == f"{name}-database-url"
        assert "AMQP_URI" in env
        assert [ref["configMapRef"]["name"] for ref in container["envFrom"]] == list(of_kind("ConfigMap"))


@pytest.mark.parametrize("deployment", DEPLOYMENTS.values(), ids=name_of)
def test_every_deployment_has_replicas_and_a_disruption_budget(deployment):
    name = deployment["metadata"]["name"]
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    selector = deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["replicas"] >= 2
    assert selector.items() <= pod_labels.items()
    budgets = [b for b in of_kind("PodDisruptionBudget").values()
               if b["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()]
    assert len(budgets) == 1, name
    assert budgets[0]["spec"].get("maxUnavailable", 0) < deployment["spec"]["replicas"]


@pytest.mark.parametrize("workload", WORKLOADS, ids=name_of)
def test_every_container_is_limited_non_root_and_read_only(workload):
    pod = pod_specs(workload)[0]
    assert pod["securityContext"]["runAsNonRoot"] is True
    # the image's USER is `nobody` by name, which the kubelet cannot check is not root: say the number
    assert pod["securityContext"]["runAsUser"] > 0
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    for container in containers(workload):
        limits, requests = container["resources"]["limits"], container["resources"]["requests"]
        assert {"cpu", "memory"} <= limits.keys() and {"cpu", "memory"} <= requests.keys()
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True
        assert context["allowPrivilegeEscalation"] is False
        [tmp] = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
        assert "emptyDir" in volumes[tmp["name"]]


@pytest.mark.parametrize("deployment", DEPLOYMENTS.values(), ids=name_of)
def test_every_deployment_has_probes_that_exist(deployment):
    name = deployment["metadata"]["name"]
    [container] = deployment["spec"]["template"]["spec"]["containers"]
    probes = {kind: container[kind] for kind in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert len(probes) == 3
    if name in BACKENDS:  # no HTTP port: common.probe, in the container
        modes = {kind: p["exec"]["command"] for kind, p in probes.items()}
        assert modes == {"startupProbe": ["python", "-m", "common.probe", "--live", name],
                         "livenessProbe": ["python", "-m", "common.probe", "--live", name],
                         "readinessProbe": ["python", "-m", "common.probe", "--ready", name]}
        assert probes["readinessProbe"]["timeoutSeconds"] > 5  # the health RPC's own limit
        return
    import gateway.service  # noqa: F401 - declares the routes
    from gateway.http import ROUTES

    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    for kind, p in probes.items():
        [route] = [r for r in ROUTES if r.method == "GET" and r.path == p["httpGet"]["path"]]
        # public, unlimited, and not failing while a service behind it is down (see gateway.yaml)
        assert (route.roles, route.public_limit, route.calls_services) == (None, False, False), kind
        assert ports[p["httpGet"]["port"]] == service(name).http_port


def test_the_probe_commands_are_ones_common_probe_accepts(capsys):
    for deployment in DEPLOYMENTS.values():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
            command = container[kind].get("exec", {}).get("command")
            if command:
                mode, name = command[3:]
                assert mode in ("--live", "--ready") and name in NAMES
    assert probe.main(["--alive", "catalog"]) == 2  # and it does refuse what it does not know
    capsys.readouterr()


def test_the_gateway_is_reachable_through_a_service_and_scales_with_load():
    gateway = DEPLOYMENTS["gateway"]
    [svc] = of_kind("Service").values()
    assert svc["spec"]["selector"].items() <= gateway["spec"]["template"]["metadata"]["labels"].items()
    ports = {p["name"] for p in gateway["spec"]["template"]["spec"]["containers"][0]["ports"]}
    assert [p["targetPort"] for p in svc["spec"]["ports"]] == ["http"] and "http" in ports
    [hpa] = of_kind("HorizontalPodAutoscaler").values()
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment", "name": "gateway"}
    assert hpa["spec"]["minReplicas"] >= 2 and hpa["spec"]["maxReplicas"] > hpa["spec"]["minReplicas"]


def test_the_migration_job_migrates_every_service_in_order_and_is_applied_first():
    [job] = of_kind("Job").values()
    commands = [c["command"] for c in containers(job)]
    assert commands == [["python", "-m", "common.migrate", name] for name in NAMES]
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    first = {name_of(o) for o in RENDERED if o["metadata"]["labels"].get("dcm/apply-first") == "true"}
    assert first == {"Job/dcm-migrate", *(f"ConfigMap/{n}" for n in of_kind("ConfigMap"))}


def test_every_container_runs_the_image_the_kustomization_names():
    [image] = yaml.safe_load((K8S / "kustomization.yaml").read_text())["images"]
    expected = f"{image['newName']}:{image['newTag']}"
    assert {c["image"] for workload in WORKLOADS for c in containers(workload)} == {expected}
