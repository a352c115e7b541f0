"""
llama.cpp's own `llama-server` as a real process (built by scripts/build_llama_server.sh),
and a streaming client for its native /completion endpoint.

/completion, not /v1/chat/completions: the race sends the exact ChatML text our server
renders, so both sides prefill the same tokens; the chat endpoint would apply the GGUF's
template (with its default system prompt) and change the prompt under comparison.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from benchmarks.machine_load import peak_rss_mb
from benchmarks.serve_process import stop_process

BUILD_SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "build_llama_server.sh"
CTX_PER_SLOT = 1024  # tokens; the race's prompts and histories stay under ~800


def binary_path() -> Path:
    """Where scripts/build_llama_server.sh keeps the binary (built or not)."""
    out = subprocess.run(["bash", str(BUILD_SCRIPT), "--print-path"], capture_output=True,
                         text=True, check=True)
    return Path(out.stdout.strip())


@dataclasses.dataclass(frozen=True)
class Event:
    """One server-sent event of a streamed /completion: a token's text, or the last one."""

    content: str
    stop: bool
    body: dict[str, Any]  # the whole JSON object (the last one has timings and counts)


def parse_events(lines: Iterable[str]) -> Iterator[Event]:
    """
    The events of a /completion stream, from its lines: ``data: {json}`` lines separated
    by blank ones. Comments (``:``), other fields and ``[DONE]`` are skipped; an
    ``error`` object raises.

    Raises:
        RuntimeError: the server streamed an error.
    """
    for raw in lines:
        line = raw.rstrip("\r\n")
        if not line.startswith("data:"):
            continue
        payload = line[5:].strip()
        if not payload or payload == "[DONE]":
            continue
        body = json.loads(payload)
        if "error" in body:
            raise RuntimeError(f"llama-server error: {body['error']}")
        yield Event(str(body.get("content", "")), bool(body.get("stop", False)), body)


@dataclasses.dataclass(frozen=True)
class Completion:
    """One streamed completion as the client saw it."""

    text: str
    ttft_ms: float  # request sent to the first token's event (the final event if none)
    total_ms: float
    tokens: int  # generated
    prompt_tokens: int  # the whole prompt
    prompt_computed: int  # of which prefilled now (the rest came from the prompt cache)
    decode_tps: float  # the server's own figure (timings.predicted_per_second)


def completion_from(events: Iterable[Event], started: float) -> Completion:
    """Fold a stream's events into a Completion; ``started`` is perf_counter at the send."""
    first = 0.0
    parts: list[str] = []
    for event in events:
        now = time.perf_counter()
        if not event.stop:
            first = first or now
            parts.append(event.content)
            continue
        timings = event.body.get("timings", {})
        return Completion(
            text="".join(parts) + event.content,
            ttft_ms=((first or now) - started) * 1000, total_ms=(now - started) * 1000,
            tokens=int(event.body.get("tokens_predicted", timings.get("predicted_n", 0))),
            prompt_tokens=int(event.body.get("tokens_evaluated", 0)),
            prompt_computed=int(timings.get("prompt_n", 0)),
            decode_tps=float(timings.get("predicted_per_second", 0.0)))
    raise RuntimeError("llama-server ended the stream without a final event")


class LlamaServer:
    """
    ``llama-server`` on a free loopback port with ``slots`` slots (continuous batching and
    prompt caching on, 2 threads by default); ``wait_policy`` sets OMP_WAIT_POLICY
    ("" leaves libgomp's default).
    """

    def __init__(self, binary: Path, gguf: Path, *, slots: int, threads: int,
                 wait_policy: str, log: Path) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        if wait_policy:
            env["OMP_WAIT_POLICY"] = wait_policy
        command = [str(binary), "-m", str(gguf), "--host", "127.0.0.1", "--port", str(self.port),
                   "-t", str(threads), "-tb", str(threads), "-np", str(slots),
                   "-c", str(CTX_PER_SLOT * slots), "--cont-batching", "--cache-prompt",
                   "--no-webui", "--log-disable"]
        self.log = log
        with log.open("w") as out:  # a pipe nobody reads would fill up and block it
            self.process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                            env=env)
        self._wait_ready(120.0)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit("llama-server exited: " + self.log.read_text()[-2000:])
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                connection.request("GET", "/health")
                if connection.getresponse().status == 200:  # 503 while the model loads
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise SystemExit(f"llama-server did not become ready in {timeout_s:.0f} s")

    def complete(self, prompt: str, n_predict: int, *, ignore_eos: bool = False) -> Completion:
        """
        Greedy completion of ``prompt`` (ChatML text; special tokens are parsed), streamed.
        ``ignore_eos``: exactly ``n_predict`` tokens, to match a count the other side made.
        """
        body = json.dumps({"prompt": prompt, "n_predict": n_predict, "stream": True,
                           "cache_prompt": True, "top_k": 1, "temperature": 0.0,
                           "ignore_eos": ignore_eos, "stop": ["<|im_end|>"]})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=600)
        try:
            started = time.perf_counter()
            connection.request("POST", "/completion", body,
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            if response.status != 200:
                raise RuntimeError(f"llama-server answered {response.status}: "
                                   f"{response.read()[:500]!r}")
            lines = (raw.decode("utf-8", errors="replace") for raw in response)
            return completion_from(parse_events(lines), started)
        finally:
            connection.close()

    def peak_rss_mb(self) -> float:
        """VmHWM of the process: its peak resident memory so far."""
        return peak_rss_mb(self.process.pid)

    def pause(self) -> None:
        """SIGSTOP: while the other side runs, not one spinning OpenMP thread competes."""
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT."""
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM (after SIGCONT: a stopped process would not act on it), kill after 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGCONT)
            stop_process(self.process, 10)
