"""Play the Godot demo in headless Chromium as a player would: click, type, press Enter,
read the screen, take screenshots.

The demo runs as a web export does: Godot 4.6's web build renders into a 1024x640 canvas
(WebGL 2 on Chromium's software rasterizer, SwiftShader) and gets its input from the
browser. The harness drives Chromium over the DevTools protocol (a websocket; aiohttp is
a server dependency already):

- input: ``Input.dispatchMouseEvent`` and ``Input.dispatchKeyEvent``, the events a real
  mouse and keyboard produce, which the engine reads from the canvas;
- reading the screen: the pack's main scene (``godot_client/tests/play_demo.gd``) runs the
  real demo scene and publishes, every frame, the text and rectangle of each visible
  Label, Button, LineEdit and RichTextLabel as ``window.godotScreen``. The harness reads
  it with ``Runtime.evaluate``: that is what the screen shows, as text (not OCR), and
  where to click;
- ``Page.captureScreenshot`` for the pictures.

Used by ``tests/clients/test_godot_client.py``; by hand, against a server you started::

    python scripts/clients/godot/play.py --grpc-web http://127.0.0.1:8080 --page-port 8765 \\
        --say "How much is a room for the night?" --out /tmp/demo-shots
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import web_test

PLAY_SCENE = "res://tests/play_demo.tscn"
WIDTH, HEIGHT = 1024, 640  # the canvas of web/play.html
# Keys whose DOM "code" is not Key<letter> or Digit<n>: (code, needs shift).
_CODES = {" ": ("Space", False), "?": ("Slash", True), ".": ("Period", False),
          ",": ("Comma", False), "'": ("Quote", False), "!": ("Digit1", True),
          "-": ("Minus", False)}


class PortGate:
    """A port that forwards TCP to ``target`` while open and refuses connections while
    closed: to the browser, a server that is there, then gone (connection refused), then
    back, without restarting it. TLS passes through untouched (the certificate is the
    server's)."""

    def __init__(self, target: int) -> None:
        self._target = target
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._listener: socket.socket | None = None
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()

    def open(self) -> None:
        """Starts forwarding."""
        self._listener = socket.create_server(("127.0.0.1", self.port))
        threading.Thread(target=self._accept, args=(self._listener,), daemon=True).start()

    def close(self) -> None:
        """Stops listening and cuts every forwarded connection."""
        if self._listener is not None:
            # shutdown wakes the thread blocked in accept(); close alone would leave the
            # socket listening until that accept returned.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            for sock in self._open:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            server = socket.create_connection(("127.0.0.1", self._target))
            with self._lock:
                self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class Screen:
    """What the demo shows at one frame: its visible controls, as text."""

    def __init__(self, controls: list[dict[str, Any]], frame: int) -> None:
        self.controls = controls
        self.frame = frame

    def find(self, name: str = "", text: str = "", kind: str = "") -> dict[str, Any] | None:
        """The first visible control with this node name, whose text contains ``text``,
        of this class (each criterion optional)."""
        for control in self.controls:
            if ((not name or control["name"] == name) and (not text or text in control["text"])
                    and (not kind or control["kind"] == kind)):
                return control
        return None

    def text(self, name: str) -> str:
        """The text of the visible control ``name`` ("" when it is not shown)."""
        control = self.find(name=name)
        return str(control["text"]) if control else ""

    def buttons(self) -> list[str]:
        """The texts of the visible buttons, in tree order."""
        return [c["text"] for c in self.controls if c["kind"] in ("Button", "CheckButton")]

    def __str__(self) -> str:
        return "\n".join(f"  {c['name']} ({c['kind']}): {c['text']!r}" for c in self.controls)


class Player:
    """One browser tab playing the demo, driven over the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, page_port: int,
                 lines: queue.Queue[str], shots: Path) -> None:
        self._ws = ws
        self._next_id = 0
        self.page_port = page_port
        self._lines = lines
        self.log: list[str] = []  # what the engine and page printed, in order
        self.shots = shots
        self.watchers: list[Callable[[Screen], None]] = []  # called with every screen read
        self._started = time.monotonic()

    async def _send(self, method: str, **params: Any) -> dict[str, Any]:
        self._next_id += 1
        await self._ws.send_json({"id": self._next_id, "method": method, "params": params})
        while True:
            message = await self._ws.receive_json()
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def _drain_log(self) -> None:
        while True:
            try:
                line = self._lines.get_nowait()
            except queue.Empty:
                return
            self.log.append(line)
            print(f"[{time.monotonic() - self._started:6.1f}s] {line}", flush=True)

    async def load(self, host: str = "127.0.0.1", query: str = "") -> None:
        """Opens the demo page (a fresh engine) from ``host``, which makes the origin:
        http://HOST:page_port. ``query``: play_demo.gd's overrides, e.g. "client_token=x"."""
        await self._send("Runtime.evaluate", expression="window.godotScreen = undefined")
        url = f"http://{host}:{self.page_port}/" + (f"?{query}" if query else "")
        print(f"page {url}", flush=True)
        await self._send("Page.navigate", url=url)

    async def screen(self) -> Screen:
        """What the demo shows now (empty before the engine has drawn its first frame)."""
        self._drain_log()
        result = await self._send(
            "Runtime.evaluate", returnByValue=True,
            expression="JSON.stringify([window.godotScreen || '[]', window.godotFrame || 0])")
        shown, frame = json.loads(result["result"]["value"])
        screen = Screen(json.loads(shown), int(frame))
        for watch in self.watchers:
            watch(screen)
        return screen

    async def wait_for(self, what: str, check: Callable[[Screen], bool], timeout: float = 60
                       ) -> Screen:
        """Polls the screen until ``check`` holds (about 20 times a second); on timeout,
        a screenshot and an AssertionError naming ``what`` and showing the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = await self.screen()
            if check(screen):
                return screen
            if time.monotonic() > deadline:
                await self.screenshot(f"timeout-{what.replace(' ', '-')[:40]}")
                raise AssertionError(f"timed out waiting for {what}; the screen:\n{screen}")
            await asyncio.sleep(0.05)

    async def settle(self, frames: int = 3) -> Screen:
        """Waits until the engine drew ``frames`` more frames (so what the screen text says
        is on the canvas too)."""
        start = (await self.screen()).frame
        return await self.wait_for("frames", lambda s: s.frame >= start + frames, 10)

    async def click(self, name: str = "", text: str = "") -> None:
        """Clicks the middle of the visible control named ``name`` / containing ``text``."""
        screen = await self.screen()
        control = screen.find(name=name, text=text)
        assert control is not None, f"no control {name!r} {text!r} on screen:\n{screen}"
        x, y, w, h = control["rect"]
        point = {"x": x + w / 2, "y": y + h / 2}
        await self._send("Input.dispatchMouseEvent", type="mouseMoved", **point)
        for kind in ("mousePressed", "mouseReleased"):
            await self._send("Input.dispatchMouseEvent", type=kind, button="left",
                             clickCount=1, **point)

    async def type(self, text: str) -> None:
        """Types ``text`` key by key, as a keyboard does (into the focused LineEdit)."""
        for char in text:
            if char.isalpha():
                code, shift = f"Key{char.upper()}", char.isupper()
            elif char.isdigit():
                code, shift = f"Digit{char}", False
            else:
                code, shift = _CODES[char]
            await self._key(char, code, text=char, shift=shift)

    async def press_enter(self) -> None:
        """Presses Enter."""
        await self._key("Enter", "Enter", text="\r", key_code=13)

    async def _key(self, key: str, code: str, text: str, shift: bool = False,
                   key_code: int = 0) -> None:
        common: dict[str, Any] = {"key": key, "code": code, "modifiers": 8 if shift else 0}
        if key_code:
            common["windowsVirtualKeyCode"] = key_code
        await self._send("Input.dispatchKeyEvent", type="keyDown", text=text, **common)
        await self._send("Input.dispatchKeyEvent", type="keyUp", **common)

    async def screenshot(self, name: str) -> Path:
        """The page as it looks now, saved as ``<shots>/<name>.png``."""
        result = await self._send("Page.captureScreenshot", format="png")
        path = self.shots / f"{name}.png"
        path.write_bytes(base64.b64decode(result["data"]))
        print(f"screenshot {path}", flush=True)
        return path


@contextlib.asynccontextmanager
async def play(client: Path, config: dict[str, str], shots: Path, *, page_port: int = 0,
               ca: Path | None = None, toolchain: Path = web_test.CACHE,
               chromium: str = shutil.which("chromium") or "chromium",
               missing: list[str] | None = None) -> AsyncIterator[Player]:
    """Serves the demo pack of ``client`` (settings ``config``, as run_config.json) on
    ``page_port`` and opens headless Chromium on it; yields the Player (call
    ``load()``). Paths the page asked for and did not get go to ``missing``. With ``ca``,
    Chromium trusts that certificate's key alone."""
    engine = toolchain / "godot-web-4.6"
    pck = web_test.build_pack(client, config, ca, main_scene=PLAY_SCENE)
    shots.mkdir(parents=True, exist_ok=True)
    with web_test.serve_page(page_port, engine, pck, "play.html", missing) as (port, lines), \
            tempfile.TemporaryDirectory() as profile:
        flags = [f"--ignore-certificate-errors-spki-list={web_test.spki_sha256(ca)}"] if ca else []
        process = subprocess.Popen(
            [chromium, "--headless", "--no-sandbox", "--enable-unsafe-swiftshader",
             "--disable-quic", "--no-first-run", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--disable-extensions",
             "--autoplay-policy=no-user-gesture-required", "--remote-debugging-port=0",
             f"--window-size={WIDTH},{HEIGHT}", *flags, f"--user-data-dir={profile}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        try:
            async with aiohttp.ClientSession() as session:
                ws_url = await _page_target(session, Path(profile) / "DevToolsActivePort")
                async with session.ws_connect(ws_url, max_msg_size=0) as ws:
                    player = Player(ws, port, lines, shots)
                    await player._send("Page.enable")
                    await player._send("Emulation.setDeviceMetricsOverride", width=WIDTH,
                                       height=HEIGHT, deviceScaleFactor=1, mobile=False)
                    try:
                        yield player
                    finally:
                        player._drain_log()
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


async def _page_target(session: aiohttp.ClientSession, port_file: Path) -> str:
    """The websocket URL of Chromium's first tab, once its DevTools port is open."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if port_file.exists() and port_file.read_text().strip():
            port = port_file.read_text().split()[0]
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"http://127.0.0.1:{port}/json") as response:
                    targets = await response.json()
                for target in targets:
                    if target.get("type") == "page":
                        return str(target["webSocketDebuggerUrl"])
        await asyncio.sleep(0.1)
    raise RuntimeError("Chromium did not open its DevTools port within 30 s")


async def _main(args: argparse.Namespace) -> int:
    config = {"grpc_web": args.grpc_web, "client_token": os.environ.get("NPC_CLIENT_TOKEN", ""),
              "admin_token": os.environ.get("NPC_ADMIN_TOKEN", ""),
              "trusted_ca_path": f"res://{web_test.CA_IN_PACK}" if args.ca else ""}
    async with play(args.client, config, args.out, page_port=args.page_port, ca=args.ca) as player:
        await player.load()
        await player.wait_for("the demo to be ready", lambda s: s.find(name="Input") is not None
                              and s.find(name="Input")["editable"], 60)
        await player.screenshot("ready")
        for line in args.say:
            await player.click(name="Input")
            await player.type(line)
            await player.press_enter()
            await player.wait_for("the answer", lambda s: s.find(name="Input")["editable"], 120)
            await player.settle()
            print(await player.screen())
        await player.screenshot("end")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grpc-web", required=True, help="the server's gRPC-Web base URL")
    parser.add_argument("--page-port", type=int, default=0,
                        help="port of the page (the origin the server must allow)")
    parser.add_argument("--ca", type=Path, help="the server's self-signed certificate (PEM)")
    parser.add_argument("--client", type=Path, default=web_test.CLIENT)
    parser.add_argument("--say", action="append", default=[], help="a line to type")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "godot-demo")
    return asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())
