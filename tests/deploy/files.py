"""
Readers of the deployment files for tests/deploy, and the validators' runner: a missing
validator skips its test, or fails it under ``NPC_REQUIRE_DEPLOY_TOOLS=1`` (``.ci/run``).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
NGINX_CONF = DEPLOY / "nginx" / "npc-runtime.conf"
ENVOY_CONF = DEPLOY / "envoy" / "envoy.yaml"


def tool(name: str, install: str) -> str:
    """The validator's path: beside this Python (the venv), on PATH, or in /usr/sbin."""
    for candidate in (Path(sys.executable).parent / name, Path("/usr/sbin") / name):
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    if found := shutil.which(name):
        return found
    reason = f"{name} is not installed; {install}"
    if os.environ.get("NPC_REQUIRE_DEPLOY_TOOLS") == "1":
        pytest.fail(f"{reason} (NPC_REQUIRE_DEPLOY_TOOLS=1: the deploy checks must run)")
    pytest.skip(reason)


def run(*command: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a validator; its exit code and output are the caller's to judge."""
    return subprocess.run([str(c) for c in command], capture_output=True, text=True,
                          timeout=300, check=False, cwd=cwd)


def passes(result: subprocess.CompletedProcess[str]) -> None:
    """Assert a validator exited 0, showing everything it said when it did not."""
    said = (result.stdout + result.stderr).strip()
    assert result.returncode == 0, f"{shlex.join(result.args)} failed:\n{said}"


def load_yaml(path: Path) -> Any:
    """One YAML document, parsed safely (merge keys resolved)."""
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def k8s(kind: str, name: str = "npc-runtime") -> dict[str, Any]:
    """One resource of the kustomization, by kind and name."""
    for file in load_yaml(K8S / "kustomization.yaml")["resources"]:
        for doc in yaml.safe_load_all((K8S / file).read_text(encoding="utf-8")):
            if doc and doc["kind"] == kind and doc["metadata"]["name"] == name:
                return dict(doc)
    raise AssertionError(f"no {kind} {name} in deploy/k8s")


def container() -> dict[str, Any]:
    """The Deployment's one container."""
    containers = k8s("Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1, "one container per pod: npc-runtime"
    return dict(containers[0])


def k8s_env() -> dict[str, str]:
    """The environment a pod gets from the ConfigMap (envFrom) and its env entries."""
    env = dict(k8s("ConfigMap")["data"])
    secret = k8s("Secret")["stringData"]
    for entry in container()["env"]:
        ref = entry.get("valueFrom", {}).get("secretKeyRef")
        env[entry["name"]] = secret[ref["key"]] if ref else entry["value"]
    return env


@dataclasses.dataclass(frozen=True)
class Instruction:
    """One Dockerfile instruction, continuation lines joined."""

    keyword: str  # FROM, RUN, ENV, ...
    args: str


def dockerfile(path: Path) -> list[list[Instruction]]:
    """The instructions of each build stage, in order."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    stages: list[list[Instruction]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        elif stages:
            stages[-1].append(Instruction(keyword.upper(), args.strip()))
    return stages


def image_env(stage: list[Instruction] | None = None) -> dict[str, str]:
    """The ENV a stage sets (``KEY=value`` form); by default the image's final stage."""
    if stage is None:
        stage = dockerfile(DEPLOY / "Dockerfile")[-1]
    env: dict[str, str] = {}
    for ins in stage:
        if ins.keyword == "ENV":
            for part in shlex.split(ins.args):
                key, _, value = part.partition("=")
                env[key] = value
    return env


def compose() -> dict[str, Any]:
    """deploy/compose.yaml, parsed."""
    return dict(load_yaml(DEPLOY / "compose.yaml"))


def replicas() -> dict[str, dict[str, Any]]:
    """The compose services that run npc-runtime (merge keys resolved by the YAML loader)."""
    return {name: svc for name, svc in compose()["services"].items()
            if svc.get("build", {}).get("dockerfile") == "deploy/Dockerfile"}


def seconds(value: str | int) -> float:
    """``30s``, ``2m``, ``1m30s`` or a number of seconds."""
    if isinstance(value, int):
        return float(value)
    parts = re.findall(r"(\d+(?:\.\d+)?)(h|ms|m|s)", value)
    assert parts, f"not a duration: {value!r}"
    unit = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
    return sum(float(n) * unit[u] for n, u in parts)


def nginx_upstreams() -> dict[str, str]:
    """Each upstream block's body, by name (they hold no nested braces)."""
    text = NGINX_CONF.read_text(encoding="utf-8")
    return dict(re.findall(r"^upstream\s+(\S+)\s*\{(.*?)^\}", text, re.M | re.S))


def uncommented(text: str) -> str:
    """nginx configuration text without its ``#`` comments."""
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())
