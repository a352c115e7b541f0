"""The Godot client (godot_client/): the generated GDScript codec is fresh, gdtoolkit's
parser, linter and formatter accept every script, and the addon's tests pass in the real
engine (Godot 4.6's web build under headless Chromium) against a live server with the
real default model, the browser calling it cross-origin as a web export would, with
tokens and TLS on: the page gets the client and admin tokens, and headless Chromium
trusts the server's self-signed certificate alone (by its key).

Needs the toolchain (`bash scripts/clients/godot/setup_toolchain.sh`, Debian 12, root);
skipped without it, unless NPC_REQUIRE_CLIENT_TOOLCHAIN=1 (CI), which makes its absence
a failure. The codec freshness check needs nothing but .venv and always runs.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.clients.conftest import (
    ROOT,
    TOOLCHAIN,
    Secured,
    require_toolchain,
    run,
    secured,
    web_server,
)
from tests.e2e.test_serve import _free_port

pytestmark = pytest.mark.e2e
SCRIPTS = ROOT / "scripts" / "clients" / "godot"
# The live tests (godot_client/tests/test_npc_dialogue.gd, test_demo.gd): all must pass.
LIVE_TESTS = [
    "test_open_session_names_the_npc",
    "test_say_streams_tokens_then_one_line",
    "test_tool_call_round_trip_advances_the_quest",
    "test_errors_map_to_status_codes",
    "test_cancel_stops_the_reply_and_the_session_goes_on",
    "test_close_session_forgets_it",
    "test_without_a_token_the_server_says_unauthenticated",
    "test_a_client_token_may_not_set_quest_state",
    "test_the_trusted_ca_loads_from_the_pack",
    "test_demo_hands_over_the_key_and_offers_the_option",
]


def _run(*args: str | Path, timeout: float, env: dict[str, str] | None = None
         ) -> subprocess.CompletedProcess[str]:
    return run(*args, timeout=timeout,
               env={"NPC_TOOLCHAIN_CACHE": str(TOOLCHAIN), "PYTHON": sys.executable,
                    **(env or {})})


@pytest.fixture(scope="module")
def toolchain() -> Path:
    """The toolchain cache; skip (or fail, in CI) when something in it is missing."""
    missing = [str(p) for p in (TOOLCHAIN / "gdtoolkit-4.5.0" / "bin" / "gdlint",
                                TOOLCHAIN / "godot-web-4.6" / "index.wasm") if not p.exists()]
    if not shutil.which("chromium"):
        missing.append("chromium")
    require_toolchain(missing, "Godot client", "scripts/clients/godot/setup_toolchain.sh")
    return TOOLCHAIN


@pytest.fixture(scope="module")
def live_server(default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> Iterator[tuple[str, int, Secured]]:
    """A real `npc-runtime serve` with gRPC-Web on, tokens and TLS, allowing the test
    page's origin (on another port, so the browser does real CORS); yields (gRPC-Web URL,
    page port, the server's certificate and tokens)."""
    page_port = _free_port()
    security = secured(tmp_path_factory.mktemp("pki"))
    with web_server(default_model_dir, tmp_path_factory.mktemp("state"),
                    "--web-cors-origin", f"http://127.0.0.1:{page_port}",
                    security=security) as web_port:
        yield f"https://localhost:{web_port}", page_port, security


def test_generated_codec_is_fresh() -> None:
    """addons/npc_dialogue/proto/*_pb.gd are what gen_codec.py makes from protos/ now."""
    result = _run(sys.executable, SCRIPTS / "gen_codec.py", "--check", timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gdscript_parses_lints_and_is_formatted(toolchain: Path) -> None:
    """gdparse, gdlint and gdformat --check (gdtoolkit 4.5.0) on every .gd file."""
    result = _run("bash", SCRIPTS / "static_checks.sh", timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no problems found" in result.stdout


def test_engine_reports_script_errors(toolchain: Path, tmp_path: Path) -> None:
    """Negative control: a call to a method that does not exist passes gdtoolkit but not
    the engine, and the harness fails the run on the engine's SCRIPT ERROR."""
    client = tmp_path / "godot_client"
    shutil.copytree(ROOT / "godot_client", client)
    frames = client / "addons" / "npc_dialogue" / "grpc_web_frames.gd"
    frames.write_text(frames.read_text().replace("_pending.slice(", "_pending.slice_typo(", 1))
    result = _run(sys.executable, SCRIPTS / "web_test.py", "--suite", "codec", "--client", client,
                  "--timeout", "60", timeout=120)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "SCRIPT ERROR" in result.stdout, result.stdout


FIXTURE_PROTOS = {
    "fx/v1/common.proto": """syntax = "proto3";
package fx.v1;
message Point { sint32 x = 1; sint64 y = 2; }
// Named like Godot's Color: generated as ColorProto.
enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; COLOR_BLUE = 2; }
""",
    "fx/v1/all.proto": """syntax = "proto3";
package fx.v1;
import "fx/v1/common.proto";
// Every proto3 feature the generator supports, in one message.
message All {
  message Inner {
    enum Mood { MOOD_UNSPECIFIED = 0; MOOD_GLAD = 2; }
    Mood mood = 1;
    bytes blob = 2;
  }
  int32 i32 = 1; int64 i64 = 2; uint32 u32 = 3; uint64 u64 = 4; fixed32 f32 = 5;
  fixed64 f64 = 6; sfixed32 sf32 = 7; sfixed64 sf64 = 8; bool flag = 9; float ratio = 10;
  double big = 11; string name = 12; bytes data = 13; Color color = 14; Point point = 15;
  Inner inner = 16; repeated double samples = 17; repeated Point points = 18;
  repeated Color colors = 19; map<string, int32> counts = 20; optional string nick = 21;
  oneof choice { string label = 22; Point at = 23; }
  repeated string tags = 24; repeated sint64 deltas = 25;
}
""",
}
# GDScript expression -> expected value (GDScript literal), checked after decoding.
FIXTURE_CHECKS = {
    "m.i32": "-7", "m.i64": "-(1 << 40)", "m.u32": "4000000000", "m.u64": "-1",
    "m.f32": "4294967295", "m.f64": "-2", "m.sf32": "-5", "m.sf64": "-(1 << 50)",
    "m.flag": "true", "m.ratio": "0.25", "m.big": "-1.5e300", "m.name": '"Grüße"',
    "m.data.hex_encode()": '"00ff10"', "m.color": "CommonPb.ColorProto.COLOR_BLUE",
    "m.point.x": "-3", "m.point.y": "-(1 << 40)", "m.inner.mood": "FxPb.AllInnerMood.MOOD_GLAD",
    "m.inner.blob.size()": "0", "m.samples": "[1.0, 2.5]", "m.points.size()": "2",
    "m.points[1].x": "9", "m.colors": "[1, 2]", "m.counts": '{"a": -1}',
    "m.has_nick()": "true", "m.nick": '""', "m.choice_case": '&"at"', "m.at.y": "4",
    "m.label": '""', "m.tags": '["x", ""]', "m.deltas": "[-1, 1, -(1 << 62)]",
}


def _fixture_hex(tmp_path: Path) -> str:
    """The fixture message serialized by the reference implementation (Python protobuf)."""
    from grpc_tools import protoc

    out = tmp_path / "py"
    out.mkdir()
    assert protoc.main(["protoc", f"-I{tmp_path / 'protos'}", f"--python_out={out}",
                        *FIXTURE_PROTOS]) == 0
    sys.path.insert(0, str(out))
    try:
        from fx.v1 import all_pb2, common_pb2  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(out))
    message = all_pb2.All(
        i32=-7, i64=-(1 << 40), u32=4000000000, u64=(1 << 64) - 1, f32=4294967295,
        f64=(1 << 64) - 2, sf32=-5, sf64=-(1 << 50), flag=True, ratio=0.25, big=-1.5e300,
        name="Grüße", data=bytes([0, 255, 16]), color=common_pb2.COLOR_BLUE,
        point=common_pb2.Point(x=-3, y=-(1 << 40)), inner=all_pb2.All.Inner(mood=2),
        samples=[1.0, 2.5], points=[common_pb2.Point(), common_pb2.Point(x=9)],
        colors=[1, 2], counts={"a": -1}, nick="", at=common_pb2.Point(y=4), tags=["x", ""],
        deltas=[-1, 1, -(1 << 62)])
    return message.SerializeToString().hex()


def test_generator_covers_proto3_in_the_engine(toolchain: Path, tmp_path: Path) -> None:
    """A fixture with every proto3 feature (all scalar types, nested messages and enums,
    imports, repeated packed and not, maps, optional, oneof, a name Godot has): its
    generated codec passes
    gdtoolkit, and in the engine decodes the reference implementation's bytes to the
    right values and encodes them back byte for byte."""
    for name, text in FIXTURE_PROTOS.items():
        (tmp_path / "protos" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "protos" / name).write_text(text)
    client = tmp_path / "godot_client"
    shutil.copytree(ROOT / "godot_client", client)
    fixture = client / "addons" / "npc_dialogue" / "fixture"
    fixture.mkdir()
    shutil.copy(client / "addons" / "npc_dialogue" / "proto" / "wire.gd", fixture)
    result = _run(sys.executable, SCRIPTS / "gen_codec.py", "--protos", tmp_path / "protos",
                  "--out", fixture, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    gdtoolkit = toolchain / "gdtoolkit-4.5.0" / "bin"
    generated = sorted(str(p) for p in fixture.glob("*_pb.gd"))
    for tool in (["gdparse"], ["gdlint"], ["gdformat", "--check"]):
        checked = _run(gdtoolkit / tool[0], *tool[1:], *generated, timeout=120)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    checks = "\n".join(f'\tcheck_eq({expr}, {value}, "{expr}")'
                       for expr, value in FIXTURE_CHECKS.items())
    (client / "tests" / "test_fixture_codec.gd").write_text(
        'extends "test_case.gd"\n\n'
        'const FxPb := preload("res://addons/npc_dialogue/fixture/all_pb.gd")\n'
        'const CommonPb := preload("res://addons/npc_dialogue/fixture/common_pb.gd")\n\n\n'
        "func test_fixture_decodes_and_reencodes() -> void:\n"
        f'\tvar hex := "{_fixture_hex(tmp_path)}"\n'
        "\tvar m := FxPb.All.decode(hex.hex_decode())\n"
        '\tif not check(m != null, "decodes"):\n\t\treturn\n'
        f"{checks}\n"
        '\tcheck_eq(m.encode().hex_encode(), hex, "re-encodes byte for byte")\n')
    runner = client / "tests" / "test_runner.gd"
    first = 'preload("test_codec.gd"),'
    runner.write_text(runner.read_text().replace(
        first, first + '\n\tpreload("test_fixture_codec.gd"),'))
    result = _run(sys.executable, SCRIPTS / "web_test.py", "--suite", "codec", "--client", client,
                  "--timeout", "120", timeout=200)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS test_fixture_codec.test_fixture_decodes_and_reencodes" in result.stdout


def test_addon_tests_pass_in_godot_web_against_a_live_server(
        toolchain: Path, live_server: tuple[str, int, Secured]) -> None:
    """Codec round trips, then NpcDialogue live over https with the client token:
    streaming, a tool call round trip that advances the quest, options, quest_update,
    error codes (UNAUTHENTICATED without a token or with an unknown one,
    PERMISSION_DENIED for a client token setting quest state), cancel, close. The tokens
    never appear in what the engine prints."""
    url, page_port, security = live_server
    tokens = {"NPC_CLIENT_TOKEN": security.client_token,
              "NPC_ADMIN_TOKEN": security.admin_token}
    result = _run(sys.executable, SCRIPTS / "web_test.py", "--grpc-web", url,
                  "--page-port", str(page_port), "--ca", security.cert, "--timeout", "400",
                  timeout=500, env=tokens)
    print(result.stdout)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"RESULT \d+ passed, 0 failed", result.stdout)
    passed = set(re.findall(r"OUT PASS test_\w+\.(\w+)", result.stdout))
    assert set(LIVE_TESTS) <= passed, set(LIVE_TESTS) - passed
    assert "skipped: the server has no" not in result.stdout, "ran as if without tokens or TLS"
    for token in tokens.values():
        assert token not in result.stdout + result.stderr, "a token was printed"


def test_chromium_is_told_to_trust_only_the_servers_key(tmp_path: Path) -> None:
    """The harness trusts the self-signed certificate by its key's SHA-256 (the value
    openssl computes for Chromium's --ignore-certificate-errors-spki-list), never all
    certificates."""
    import base64
    import hashlib

    sys.path.insert(0, str(SCRIPTS))
    try:
        import web_test  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(SCRIPTS))
    security = secured(tmp_path)
    # The SubjectPublicKeyInfo, DER: the body of the PEM public key openssl extracts.
    pem = subprocess.run(["openssl", "x509", "-pubkey", "-noout", "-in", str(security.cert)],
                         capture_output=True, text=True, check=True).stdout
    der = base64.b64decode("".join(line for line in pem.splitlines() if "-----" not in line))
    assert web_test.spki_sha256(security.cert) == base64.b64encode(
        hashlib.sha256(der).digest()).decode()
    assert web_test.spki_sha256(secured(tmp_path / "other").cert) != web_test.spki_sha256(
        security.cert)
    assert "--ignore-certificate-errors\"" not in (SCRIPTS / "web_test.py").read_text()
