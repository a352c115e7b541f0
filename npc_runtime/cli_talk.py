"""
``npc-runtime say`` and ``chat``: talk to a running server as a game would, over gRPC.

The CLI stands in for the game: it answers every tool call the NPC makes with success
(``_play_the_game``), prints the reply as it streams, and with ``--explain`` the reply's
plan (what the runtime decided the line should do, and why). Like a game, it sends the
conversation's affinity key (``x-npc-session``) on every call, so a load balancer keeps
the conversation on one server.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from npc_runtime.server.client import DialogueClient


def _options(args: argparse.Namespace) -> dict[str, Any]:
    fields = {"max_new_tokens": args.max_new_tokens, "temperature": args.temperature,
              "top_p": args.top_p, "seed": args.seed}
    return {k: v for k, v in fields.items() if v is not None}


def _client(args: argparse.Namespace) -> DialogueClient:
    """The client for ``say`` and ``chat``: --token/--token-file, --ca-file/--tls."""
    from npc_runtime.server.client import ClientError, DialogueClient

    token = args.token or ""
    if args.token_file is not None:
        try:
            token = args.token_file.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise ClientError(f"cannot read --token-file {args.token_file}: {exc}") from exc
    return DialogueClient(args.host, args.port, token=token, ca_file=args.ca_file,
                          tls=args.tls)


def _cmd_say(args: argparse.Namespace) -> int:
    stream = None if args.json else _print_delta
    with _client(args) as client:
        session, _ = client.open_session(args.npc, args.player, player_id=args.player_id,
                                         affinity=args.affinity_key)
        try:
            reply = client.say(session, args.text, on_token=stream, hold=args.hold,
                               tool_choice=args.tool_choice, on_tool_call=_play_the_game,
                               **_options(args))
        finally:
            client.close_session(session)
    if args.json:
        print(json.dumps({"npc": args.npc, **dataclasses.asdict(reply)}))
    else:
        if reply.replaced:  # the streamed text was rejected by the lore check
            print(f"\n  [replaced by the checked line] {reply.text}", end="")
        print()
        if args.explain:
            _explain(reply.plan)
    return 0


def _explain(plan: dict[str, Any]) -> None:
    """The reply's plan, for a writer: what the runtime decided the line should do."""
    facts = ", ".join(plan.get("facts") or []) or "none"
    closest = ", ".join(f"{f} {s:.2f}" for f, s in (plan.get("matches") or {}).items())
    print(f"  [plan] {plan.get('act') or '?'} (line read as {plan.get('line_kind') or '?'}); "
          f"facts: {facts}", file=sys.stderr)
    print(f"  [why] {plan.get('why') or '?'}", file=sys.stderr)
    if closest:
        print(f"  [closest facts] {closest}", file=sys.stderr)
    for draft in plan.get("drafts") or []:
        faults = "; ".join(draft["faults"]) or "no fault"
        print(f"  [draft] {draft['text']!r}: {faults}", file=sys.stderr)
    for step in plan.get("tool_trace") or []:
        print(f"  [tools] {step}", file=sys.stderr)


def _cmd_chat(args: argparse.Namespace) -> int:
    with _client(args) as client:
        session, name = client.open_session(args.npc, args.player,
                                            player_id=args.player_id,
                                            affinity=args.affinity_key)
        print(f"Talking to {name}. Empty line or Ctrl-D to leave.", file=sys.stderr)
        try:
            while (line := _read_line("you> ")).strip():
                print(f"{name}> ", end="", flush=True)
                reply = client.say(session, line, on_token=_print_delta,
                                   on_tool_call=_play_the_game, **_options(args))
                print(f"\n  [{reply.ttft_ms:.0f} ms to first token, {reply.tokens} tokens, "
                      f"{reply.tokens_per_s:.0f} tok/s]", file=sys.stderr)
                if args.explain:
                    _explain(reply.plan)
                for change in reply.quest_changes:
                    print(f"  [quest] {change}", file=sys.stderr)
                if reply.options:
                    print("  [you may say] " + " | ".join(reply.options), file=sys.stderr)
        finally:
            client.close_session(session)
    return 0


def _read_line(prompt: str) -> str:
    try:
        return input(prompt)
    except EOFError:
        return ""


def _play_the_game(tool: str, arguments: dict[str, object]) -> tuple[str, str]:
    """The CLI stands in for a game: it reports each call it must run and says it worked."""
    print(f"  [the NPC calls {tool} {json.dumps(arguments)}; answered ok]", file=sys.stderr)
    return json.dumps({"ok": True}), ""


def _print_delta(text: str) -> None:
    print(text, end="", flush=True)


def add_talk(sub: Any) -> None:
    """Add ``say`` and ``chat`` to the CLI's subcommands (argparse's private action)."""
    for name, helptext, run in (("say", "send one line to an NPC and print the reply", _cmd_say),
                                ("chat", "talk to an NPC interactively", _cmd_chat)):
        p = sub.add_parser(name, help=helptext, description=helptext[0].upper() + helptext[1:]
                           + " (needs a running `npc-runtime serve`).")
        p.add_argument("--npc", required=True, help="NPC id, e.g. maren")
        p.add_argument("--player", default="", help="the player's name, as the NPC will use it")
        p.add_argument("--player-id", default="", metavar="ID",
                       help="whose quest state the conversation reads and moves on (the "
                            "game's save or account id; default: the session's own)")
        p.add_argument("--affinity-key", default="", metavar="KEY",
                       help="sent as x-npc-session on every call of the conversation: the "
                            "key a load balancer keeps it on one server by (default: "
                            "--player-id, else a random key for this conversation)")
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--port", type=int, default=50051)
        token = p.add_mutually_exclusive_group()
        token.add_argument("--token", help="token for a server started with --auth-tokens "
                           "(visible to other local users in the process list: prefer "
                           "--token-file)")
        token.add_argument("--token-file", type=Path, metavar="FILE",
                           help="read the token from FILE (its only content)")
        p.add_argument("--ca-file", type=Path, metavar="PEM",
                       help="talk TLS, trusting this certificate (e.g. the server's "
                       "--tls-cert when self-signed)")
        p.add_argument("--tls", action="store_true",
                       help="talk TLS, trusting the system's certificate authorities")
        p.add_argument("--max-new-tokens", type=int)
        p.add_argument("--temperature", type=float, help="0 = greedy (server default)")
        p.add_argument("--top-p", type=float)
        p.add_argument("--seed", type=int, help="makes sampled replies reproducible")
        if name == "say":
            p.add_argument("text", help="what the player says")
            p.add_argument("--json", action="store_true",
                           help="print one JSON object (text, ttft_ms, tokens, tokens_per_s, "
                                "check: the lore check's action and violations, ...)")
            p.add_argument("--hold", action="store_true",
                           help="receive the line only after it passed the lore check")
            p.add_argument("--tool-choice", default="", metavar="TOOL",
                           help="make the NPC call TOOL first ('none': only speak)")
        p.add_argument("--explain", action="store_true",
                       help="also print each reply's plan: its act (answer, does not know, "
                            "will not tell, ...), the facts it tells, why, and the drafts")
        p.set_defaults(run=run)
