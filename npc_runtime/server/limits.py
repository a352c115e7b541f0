"""
Bounds on every string of every request, checked before any servicer runs.

Each string field has a limit (its name in ``_LIMITS``, else an id's ``_DEFAULT``), and
each repeated or map field a count, so no request can make the server hold or scan
megabytes of text it never meant to accept. The domain applies its own, configured
limits on top (the player's line: ``NPC_MAX_TEXT_CHARS``); these are the outer wall.
"""

from __future__ import annotations

from google.protobuf.message import Message

_DEFAULT = 256  # ids, names, tool choices: characters
_LIMITS = {
    "text": 16_384,  # the player's line; the engine enforces NPC_MAX_TEXT_CHARS below this
    "result_json": 4000,
    "error": 4000,
    "path": 4096,
    "files.value": 1 << 20,  # a world file's YAML sent inline to ValidateWorld/LoadWorld
}
_MAX_ITEMS = 4096  # entries of any repeated or map field


def oversized(message: Message, prefix: str = "") -> str | None:
    """
    The first field of ``message`` past its bound, described for the client; None if
    every field is within bounds.
    """
    for field, value in message.ListFields():
        name = f"{prefix}{field.name}"
        if field.is_repeated:
            if len(value) > _MAX_ITEMS:
                return f"{name} has {len(value)} entries; the limit is {_MAX_ITEMS}"
            if field.message_type is not None and field.message_type.GetOptions().map_entry:
                for key, item in value.items():
                    if problem := (_check(f"{name}.key", key) or _check(f"{name}.value", item)):
                        return problem
                continue
            items = list(value)
        else:
            items = [value]
        for item in items:
            problem = (oversized(item, f"{name}.") if isinstance(item, Message)
                       else _check(name, item))
            if problem:
                return problem
    return None


def _check(name: str, value: object) -> str | None:
    if isinstance(value, Message):
        return oversized(value, f"{name}.")
    if not isinstance(value, str):
        return None
    parts = name.split(".")  # "source.files.files.value": the last two name the map
    limit = _LIMITS.get(".".join(parts[-2:]), _LIMITS.get(parts[-1], _DEFAULT))
    if len(value) > limit:
        return f"{name} is {len(value)} characters; the limit is {limit}"
    return None
