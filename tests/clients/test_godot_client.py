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

import asyncio
import importlib
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import grpc
import pytest

from npc_runtime.server._proto.npc.v1 import dialogue_pb2 as pb
from npc_runtime.server._proto.npc.v1 import dialogue_pb2_grpc as pb_grpc
from tests.clients.conftest import (
    ROOT,
    TOOLCHAIN,
    Secured,
    Served,
    assert_conversations_keyed,
    require_toolchain,
    run,
    secured,
    serving,
)
from tests.e2e.test_serve import _free_port

pytestmark = pytest.mark.e2e
SCRIPTS = ROOT / "scripts" / "clients" / "godot"
# The live tests (godot_client/tests/test_npc_dialogue.gd, test_demo.gd): all must pass.
# Screenshots of the browser play also go here (git-ignored), besides a temporary folder.
ARTEFACTS = ROOT / "tests" / "clients" / "artefacts" / "godot-demo"
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
    "test_every_call_of_a_conversation_carries_its_affinity_key",
]


def _script(name: str) -> ModuleType:
    """A module of scripts/clients/godot (web_test, play)."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(SCRIPTS))


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
                ) -> Iterator[tuple[str, int, Secured, Served]]:
    """A real `npc-runtime serve` with gRPC-Web on, tokens and TLS, allowing the test
    page's origin (on another port, so the browser does real CORS), logging every call
    (--log-level debug); yields (gRPC-Web URL, page port, the server's certificate and
    tokens, the server)."""
    page_port = _free_port()
    security = secured(tmp_path_factory.mktemp("pki"))
    with serving(default_model_dir, tmp_path_factory.mktemp("state"),
                 "--web-cors-origin", f"http://127.0.0.1:{page_port}", "--log-level", "debug",
                 security=security) as served:
        yield f"https://localhost:{served.web_port}", page_port, security, served


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
        toolchain: Path, live_server: tuple[str, int, Secured, Served]) -> None:
    """Codec round trips, then NpcDialogue live over https with the client token:
    streaming, a tool call round trip that advances the quest, options, quest_update,
    error codes (UNAUTHENTICATED without a token or with an unknown one,
    PERMISSION_DENIED for a client token setting quest state), cancel, close; every call
    of a conversation reaches the server (cross-origin, from the browser) with its
    affinity key x-npc-session, seen in the server's log lines of each call: the player
    id, or a random key without one. The tokens never appear in what the engine prints."""
    url, page_port, security, served = live_server
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
    assert_conversations_keyed(result.stdout, served.log)


def test_chromium_is_told_to_trust_only_the_servers_key(tmp_path: Path) -> None:
    """The harness trusts the self-signed certificate by its key's SHA-256 (the value
    openssl computes for Chromium's --ignore-certificate-errors-spki-list), never all
    certificates."""
    import base64
    import hashlib

    web_test = _script("web_test")
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


# --- The demo, played in a rendering browser -----------------------------------------------

SPEAKER = "Maren Ashveil"
ROOM_REQUEST = "Can I have a room key for the night?"  # demo.gd's buttons
STEW_REQUEST = "Can I have a bowl of eel stew?"
STEW_OPTION = "I'll bring the boy some stew."  # the quest's player option at stage trusted
EMPTY_SPEAKER = re.compile(rf"^({SPEAKER}|maren):\s*$", re.MULTILINE)


def _ready(screen: Any) -> bool:
    """The player can type (the demo is not waiting on the server)."""
    field = screen.find(name="Input")
    return field is not None and bool(field["editable"])


def _problem(screen: Any) -> str:
    """The problem panel's text ("" when it is hidden)."""
    return str(screen.text("ProblemText"))


def _replied(line: str) -> Callable[[Any], bool]:
    """The player may type again and the log has a line of hers after ``line``."""
    def check(screen: Any) -> bool:
        log = screen.text("Log")
        said = log.rfind(f"You: {line}\n")
        return _ready(screen) and said >= 0 and f"\n{SPEAKER}: " in log[said:]
    return check


def _reply(screen: Any, line: str) -> str:
    """Her line after the player's ``line``, as the log shows it."""
    log = screen.text("Log")
    after = log[log.rfind(f"You: {line}\n"):]
    return after[after.index(f"\n{SPEAKER}: ") + len(SPEAKER) + 3:].split("\n")[0]


class _TurnHolder:
    """Another player whose turn waits on the game's tool result, holding the server's
    only turn place (serve --max-active-turns 1 --max-queued-turns 0), until released."""

    def __init__(self, port: int, security: Secured) -> None:
        credentials = grpc.ssl_channel_credentials(root_certificates=security.cert.read_bytes())
        self._channel = grpc.secure_channel(f"localhost:{port}", credentials)
        self._metadata = (("authorization", f"Bearer {security.client_token}"),)
        self._call: Any = None

    def hold(self) -> None:
        """Returns once the turn waits on the game (it asked for a tool call)."""
        stub = pb_grpc.DialogueServiceStub(self._channel)
        session = stub.OpenSession(pb.OpenSessionRequest(npc_id="maren", player_id="holder"),
                                   metadata=self._metadata, timeout=30)
        self._call = stub.Say(pb.SayRequest(session_id=session.session_id, text=ROOM_REQUEST,
                                            tool_choice="give_item"),
                              metadata=self._metadata, timeout=120)
        for event in self._call:
            if event.HasField("tool_call"):
                return
        raise AssertionError("the holding turn made no tool call")

    def release(self) -> None:
        """Cancels the turn: its place frees."""
        if self._call is not None:
            self._call.cancel()
        self._channel.close()


async def _say(player: Any, line: str) -> Any:
    """Clicks the text field, types ``line``, presses Enter; returns the screen once her
    reply is in."""
    await player.click(name="Input")
    await player.type(line)
    await player.press_enter()
    return await player.wait_for(f"her reply to {line!r}", _replied(line), 120)


async def _play_demo(player: Any, gate: Any, served: Any, security: Secured) -> None:
    """The scripted play; see the test's docstring."""
    empty_lines: list[str] = []  # screens that showed a speaker without words
    late: list[str] = []  # screens where the inventory moved but the log did not
    player.watchers.append(lambda s: empty_lines.append(s.text("Log"))
                           if EMPTY_SPEAKER.search(s.text("Log")) else None)
    player.watchers.append(lambda s: late.append(str(s)) if "room key" in s.text("Inventory")
                           and "hands you: room key" not in s.text("Log") else None)
    await _refused_origin_then_no_server(player, gate)
    await _conversation(player)
    await _hold_and_plan(player)
    await _busy_server(player, served, security)
    await _server_gone(player, gate)
    await _unknown_token(player)
    assert not empty_lines, f"a speaker line without words: {empty_lines[0]}"
    assert not late, f"the inventory changed before the log did: {late[0]}"


async def _refused_origin_then_no_server(player: Any, gate: Any) -> None:
    """A page whose origin the server does not allow (localhost, not 127.0.0.1); then
    nothing listening at the address, until the server comes up and Retry connects."""
    gate.open()
    await player.load(host="localhost")
    screen = await player.wait_for("the refused origin", lambda s: _problem(s) != "")
    assert "it does not allow this page's origin" in _problem(screen), screen
    assert f"http://localhost:{player.page_port}" in _problem(screen), screen
    assert screen.find(name="Retry") is not None
    await player.settle()
    await player.screenshot("01-origin-refused")
    gate.close()
    await player.load()
    screen = await player.wait_for("no server", lambda s: _problem(s) != "")
    assert f"No server answers at https://localhost:{gate.port}" in _problem(screen), screen
    await player.settle()
    await player.screenshot("02-no-server")
    gate.open()
    await player.click(name="Retry")
    screen = await player.wait_for("the demo ready after Retry", _ready, 60)
    assert screen.text("Title") == SPEAKER
    assert screen.text("Stage") == "Noises Below: stage asked"  # from GetQuestState
    assert "Ask Maren about the noises in the cellar" in screen.text("Objective")
    await player.settle()
    await player.screenshot("03-ready")


async def _conversation(player: Any) -> None:
    """A typed line; the room key's tool call, accepted, moves the quest; the option
    button finishes it; the stew the player cannot pay for is refused."""
    screen = await _say(player, "How much is a room for the night?")
    assert _reply(screen, "How much is a room for the night?").strip()
    await player.settle()
    await player.screenshot("04-typed-line")

    await player.click(name="AskForRoom")
    screen = await player.wait_for("the key handed over", _replied(ROOM_REQUEST), 120)
    call = screen.text("ToolCall")
    for part in ('"item": "room_key"', "accepted by the game", "status OK"):
        assert part in call, call
    assert "hands you: room key" in screen.text("Log")
    assert screen.text("Inventory") == "Purse: 1 copper   Inventory: room key"
    assert screen.text("Stage") == "Noises Below: stage trusted"
    assert "Maren has given you a room" in screen.text("Objective")
    await player.settle()
    await player.screenshot("05-tool-call-accepted")

    await player.click(text=STEW_OPTION)
    screen = await player.wait_for("the option's turn", _replied(STEW_OPTION), 120)
    assert screen.text("Stage") == "Noises Below: stage done"
    await player.settle()
    await player.screenshot("06-option-quest-done")

    # Stew for 2 copper with 1 in the purse.
    await player.click(name="BuyStew")
    screen = await player.wait_for("the stew refused", _replied(STEW_REQUEST), 120)
    call = screen.text("ToolCall")
    for part in ('"item": "eel_stew"', "refused by the game", "cannot afford", "status FAILED"):
        assert part in call, call
    assert screen.text("Inventory") == "Purse: 1 copper   Inventory: room key"
    await player.settle()
    await player.screenshot("07-tool-call-refused")


async def _hold_and_plan(player: Any) -> None:
    """Hold until checked: nothing of her line shows until all of it does. The plan."""
    await player.click(name="Hold")
    await player.wait_for("hold explained", lambda s: "REPLY_MODE_HOLD" in s.text("ModeHelp"))
    held, shown = "Tell me about the bell tower.", set()
    waited: list[bool] = []
    player.watchers.append(lambda s: waited.append(True) if "held until" in s.text("Status")
                           else shown.add(_reply(s, held))
                           if f"You: {held}\n{SPEAKER}: " in s.text("Log") else None)
    screen = await _say(player, held)
    assert waited, "the status said the line is held until checked"
    assert shown == {_reply(screen, held)}, f"only the whole line was shown: {shown}"
    await player.click(name="DebugToggle")
    screen = await player.wait_for("the plan", lambda s: "why:" in s.text("Debug"))
    for part in ("act: ", "why: ", "check: CHECK_ACTION_"):
        assert part in screen.text("Debug"), screen.text("Debug")
    await player.settle()
    await player.screenshot("08-hold-and-plan")
    await player.click(name="DebugToggle")


async def _busy_server(player: Any, served: Any, security: Secured) -> None:
    """The server's one turn place is taken: RESOURCE_EXHAUSTED with its retry hint, and
    the line goes through once the place is free."""
    holder = _TurnHolder(served.port, security)
    try:
        await asyncio.to_thread(holder.hold)
        await player.click(name="Input")
        await player.type("Good evening!")
        await player.press_enter()
        screen = await player.wait_for("busy", lambda s: "at capacity" in _problem(s), 30)
        assert "Its retry hint: " in _problem(screen), "the retry-after-ms hint reached the page"
        await player.settle()
        await player.screenshot("09-busy-retry-after-hint")
    finally:
        holder.release()
    screen = await player.wait_for("the retry", lambda s: _replied("Good evening!")(s) or (
        _problem(s) != "" and "Trying again" not in _problem(s)), 60)
    if not _replied("Good evening!")(screen):  # the automatic retries ran out first
        await player.click(name="Retry")
        await player.wait_for("the retry", _replied("Good evening!"), 120)


async def _server_gone(player: Any, gate: Any) -> None:
    """The server goes away mid-conversation: no speaker line, what to do; it comes back
    and Retry says the line again."""
    gate.close()
    await player.click(name="Input")
    await player.type("Are you still there?")
    await player.press_enter()
    screen = await player.wait_for("the server gone", lambda s: _problem(s) != "")
    assert f"No server answers at https://localhost:{gate.port}" in _problem(screen), screen
    log = screen.text("Log").rstrip("\n").split("\n")
    assert log[-2:] == ["You: Are you still there?", "  (error UNAVAILABLE: see below)"], log
    await player.settle()
    await player.screenshot("10-server-gone")
    gate.open()
    await player.click(name="Retry")
    await player.wait_for("the line said again", _replied("Are you still there?"), 120)
    await player.settle()
    await player.screenshot("11-server-back")


async def _unknown_token(player: Any) -> None:
    """A client token the server does not know."""
    await player.load(query="client_token=not-a-token-the-server-knows")
    screen = await player.wait_for("the unknown token", lambda s: _problem(s) != "")
    assert "did not accept the client token" in _problem(screen), screen
    await player.settle()
    await player.screenshot("12-unauthenticated")


def test_demo_played_in_a_browser_by_clicks_and_typing(
        toolchain: Path, default_model_dir: Path, tmp_path_factory: pytest.TempPathFactory,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The demo as a web export, rendering (WebGL) in headless Chromium, played by mouse
    clicks and key presses against a live server with tokens and TLS (one turn place, so a
    second player makes it busy), the screen read as text: the refused origin and the
    missing server each say what to do, Retry reconnects; a typed line and Enter get her
    line; the room key's tool call is accepted, shown with its status, and moves the stage
    shown; the option button finishes the quest; the stew the player cannot pay for is
    refused with the reason; hold mode shows only whole lines; the plan panel opens; a
    busy server's retry hint reaches the page and the line goes through after it; a server
    that goes away and comes back; an unknown token. No speaker line is ever empty, the
    log never lags the inventory, the page loads nothing that is missing (the audio
    worklets), and the engine prints no error but the failed fetches the scenario causes.
    Screenshots go to a temporary folder (printed) and tests/clients/artefacts/godot-demo/."""
    play = _script("play")
    web_test = _script("web_test")
    shots = tmp_path_factory.mktemp("godot-demo-shots")
    with capsys.disabled():  # shown even when the test passes: CI keeps no files
        print(f"\ngodot demo screenshots: {shots} (copied to {ARTEFACTS})")
    page_port = _free_port()
    security = secured(tmp_path_factory.mktemp("demo-pki"))
    missing: list[str] = []
    with serving(default_model_dir, tmp_path_factory.mktemp("demo-state"),
                 "--web-cors-origin", f"http://127.0.0.1:{page_port}",
                 "--max-active-turns", "1", "--max-queued-turns", "0",
                 security=security) as served:
        gate = play.PortGate(served.web_port)
        config = {"grpc_web": f"https://localhost:{gate.port}",
                  "client_token": security.client_token, "admin_token": security.admin_token,
                  "trusted_ca_path": f"res://{web_test.CA_IN_PACK}"}

        async def scenario() -> list[str]:
            async with play.play(ROOT / "godot_client", config, shots, page_port=page_port,
                                 ca=security.cert, toolchain=TOOLCHAIN,
                                 missing=missing) as player:
                try:
                    await _play_demo(player, gate, served, security)
                finally:
                    print((await player.screen()).text("Log"))
                return list(player.log)

        try:
            printed = asyncio.run(scenario())
        finally:
            gate.close()
            shutil.rmtree(ARTEFACTS, ignore_errors=True)
            shutil.copytree(shots, ARTEFACTS)
    assert missing == [], f"the page asked for files it did not get: {missing}"
    errors = [line for line in printed if web_test.ENGINE_ERRORS.search(line)
              or (web_test._is_error(line) and "Failed to fetch" not in line)]
    assert errors == [], errors
    for token in (security.client_token, security.admin_token):
        assert token not in "\n".join(printed), "a token was printed"
