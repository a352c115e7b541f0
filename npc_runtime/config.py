"""
Settings: built once from CLI flags, then ``NPC_*`` environment variables, then defaults.

Nothing else in the package reads ``os.environ``; everything receives a ``Settings``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from npc_runtime.errors import ConfigError

#: The world the Quickstart serves, shipped in the repository.
EXAMPLE_WORLD = Path(__file__).resolve().parent.parent / "examples" / "worlds" / "harbor"


def _default_cache_dir(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "npc-runtime"


def _default_state_db(env: Mapping[str, str]) -> Path:
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "npc-runtime" / "state.sqlite3"


@dataclasses.dataclass(frozen=True)
class Settings:
    """
    Everything the server and the CLI can be told.

    Build one with :meth:`Settings.load`; the fields are validated on construction.
    """

    world: Path = EXAMPLE_WORLD
    model_dir: Path | None = None  # None: the default model in cache_dir, built if missing
    # The sentence encoder (model build-encoder); None: the default one in cache_dir, built
    # if missing.
    encoder_dir: Path | None = None
    cache_dir: Path = dataclasses.field(default_factory=lambda: _default_cache_dir(os.environ))
    precision: str = "int4"  # of the default model: int4 | int8 | fp32 | fp16 (CUDA)
    device: str = "auto"  # auto | cpu | cuda
    threads: int = 0  # onnxruntime intra-op threads; 0 = one per core
    # Whether those threads spin between steps (onnxruntime's default) instead of sleeping.
    # Off: on a quiet 2-core machine both read alike against llama-server (16 sessions 1.34x
    # spinning, 1.29x not; warm TTFT within the runs' spread), and with one core taken by
    # other work spinning lost half the throughput (0.82x vs 1.58x): a game server shares
    # its machine (benchmarks/server_race.py --ours-spin; NPC_SPIN=1 turns it on).
    spin: bool = False
    host: str = "127.0.0.1"
    port: int = 50051
    # gRPC-Web (HTTP/1.1) for engines and browsers, on its own port; None: off, 0: a free one.
    web_port: int | None = None
    # Page origins a browser build may call gRPC-Web from ("*": any); none: same-origin only.
    web_cors_origins: tuple[str, ...] = ()
    # Prometheus metrics (GET /metrics, plain HTTP) on their own port, bound to ``host``;
    # None: off, 0: a free one. They name no player and hold no text.
    metrics_port: int | None = None
    log_format: str = "auto"  # auto | json | console
    log_level: str = "info"
    max_text_chars: int = 1000  # longest player line accepted
    max_new_tokens: int = 96  # default and cap for one reply
    # Reply defaults a request may override. Greedy with a repetition penalty is the most
    # coherent setting measured for the 135M default model.
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.3
    # Drafts of a line's first sentence: a faulty one (score.py) is drafted again, sampled,
    # up to this many times; when all have faults the scorer's stand-in is said (the fact
    # in the NPC's words, an authored line) or the best draft. 1: one draft, judged the
    # same way (a faulty one gives way to the stand-in; no second decode). 0: no scorer,
    # the checked first draft is said. Extra drafts only while at most half of
    # max_active_turns are running (under load, one draft, still judged).
    # 1 since session 18: with the stand-in, a second draft (decoded with the first as a
    # batch row, dialogue/drafts.py) changed no judged figure on the persona dev set,
    # conversations and spent held-out set (clean 93.6 / 90.6 %, facts 86.5 / 82.4 % at 1
    # and 2) and wrote 2-4 % more of the lines itself, for a time to the first sentence of
    # lines the model ran of p50 360-450 ms against 510-670 ms (README, persona benchmark).
    candidates: int = 1
    # Whether a line read as a request, but too unsurely to act on, gets the NPC's offer of
    # the call it may ask for ("The room key, then?"), which a yes takes (tools/confirm.py).
    confirm: bool = True
    # Words in a row a line that tells a fact may copy from it (constraints/copying.py):
    # the model must put the fact in its own words. 0: no ban.
    copy_limit: int = 3
    # Whether the reply planner moves a line's vector towards the facts lines like it ask
    # for before comparing (dialogue/question_map.py, learnt from our own corpus). Off: raw
    # sentence vectors, as before session 18.
    question_map: bool = True
    max_sessions: int = 10_000
    shutdown_grace_s: float = 5.0
    # All KV: rows being decoded, then shared prefixes and idle sessions (LRU) in what is left.
    kv_cache_mb: int = 1024
    warm: bool = False  # prefill every NPC's prefix at start
    watch: bool = True  # hot-reload the world folder when its files change
    watch_interval_s: float = 1.0
    # Quest states and sessions in SQLite. None keeps them in memory only; Settings.load
    # (the CLI) defaults to $XDG_DATA_HOME/npc-runtime/state.sqlite3.
    state_db: Path | None = None
    # PostgreSQL instead, shared by every server given the same URL:
    # postgresql://USER:PASSWORD@HOST:PORT/DATABASE. Left out of repr: it may hold a password.
    state_url: str | None = dataclasses.field(default=None, repr=False)
    tool_timeout_s: float = 10.0  # how long a turn waits for the game to run a tool
    # Admission: turns decoding at once (each holds a decode batch row), turns waiting for
    # one, and how long one may wait before it is refused with RESOURCE_EXHAUSTED.
    max_active_turns: int = 16
    max_queued_turns: int = 4
    queue_timeout_s: float = 0.5
    # Who may call: a file of ``ROLE TOKEN`` lines (roles client, admin); None: anyone.
    auth_tokens_file: Path | None = None
    # TLS on both ports (PEM files); both or neither.
    tls_cert: Path | None = None
    tls_key: Path | None = None
    # Serve a non-loopback address without a tokens file (says so at start).
    insecure: bool = False
    # Folders LoadWorld may load from (resolved); empty: the served world's own folder.
    world_roots: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        checks = [
            (self.precision in {"int4", "int8", "fp32", "fp16"},
             "precision must be int4, int8, fp32 or fp16"),
            (self.device in {"auto", "cpu", "cuda"}, "device must be auto, cpu or cuda"),
            (self.threads >= 0, "threads must be >= 0"),
            (0 <= self.port <= 65535, "port must be between 0 and 65535"),
            (self.web_port is None or 0 <= self.web_port <= 65535,
             "web port must be between 0 and 65535"),
            (self.metrics_port is None or 0 <= self.metrics_port <= 65535,
             "metrics port must be between 0 and 65535"),
            (all(o == "*" or "://" in o for o in self.web_cors_origins),
             "CORS origins are like http://localhost:8060 (scheme, host, port) or *"),
            (self.log_format in {"auto", "json", "console"}, "log format: auto, json or console"),
            (self.max_text_chars > 0, "max_text_chars must be positive"),
            (self.max_new_tokens > 0, "max_new_tokens must be positive"),
            (0 <= self.candidates <= 8, "candidates must be from 0 to 8"),
            (self.copy_limit >= 0, "copy_limit must be >= 0 (0: no ban)"),
            (self.max_sessions > 0, "max_sessions must be positive"),
            (self.watch_interval_s > 0, "watch_interval_s must be positive"),
            (self.kv_cache_mb >= 0, "kv_cache_mb must be >= 0"),
            (self.tool_timeout_s > 0, "tool_timeout_s must be positive"),
            (self.max_active_turns > 0, "max_active_turns must be positive"),
            (self.max_queued_turns >= 0, "max_queued_turns must be >= 0"),
            (self.queue_timeout_s > 0, "queue_timeout_s must be positive"),
            ((self.tls_cert is None) == (self.tls_key is None),
             "TLS needs both a certificate and a key (--tls-cert and --tls-key)"),
            # The message does not echo the value: it may hold a password.
            (not self.state_url or self.state_url.startswith(("postgresql://", "postgres://")),
             "NPC_STATE_URL must be a PostgreSQL URL: "
             "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    @classmethod
    def load(
        cls, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None
    ) -> Settings:
        """
        Merge flags (highest priority), ``NPC_<FIELD>`` variables, then defaults.

        Args:
            flags: Field values from the command line; ``None`` values are ignored.
            env: The environment; ``os.environ`` when omitted.

        Raises:
            ConfigError: A value cannot be converted or fails validation.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        if "XDG_CACHE_HOME" in env:
            values["cache_dir"] = _default_cache_dir(env)
        values["state_db"] = _default_state_db(env)
        for field in dataclasses.fields(cls):
            raw = env.get(f"NPC_{field.name.upper()}")
            if raw:
                values[field.name] = _convert(field.name, raw)
        for name, value in (flags or {}).items():
            if value is not None:
                values[name] = value
        return cls(**values)


def _convert(name: str, raw: str) -> Any:
    field = {f.name: f for f in dataclasses.fields(Settings)}[name]
    kind = str(field.type)
    try:
        if "tuple" in kind:
            return tuple(part.strip() for part in raw.split(",") if part.strip())
        if "Path" in kind:
            return Path(raw).expanduser()
        if kind == "bool":
            if raw.lower() not in {"1", "0", "true", "false", "yes", "no"}:
                raise ValueError(raw)
            return raw.lower() in {"1", "true", "yes"}
        if kind in ("int", "int | None"):
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError as exc:
        raise ConfigError(f"NPC_{name.upper()}={raw!r} is not a valid {kind}") from exc
    return raw
