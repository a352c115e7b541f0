"""
Every error npc-runtime raises on purpose.

::

    NpcRuntimeError
    ├── ConfigError            a setting is missing or malformed
    ├── LoreError              a world file cannot be loaded (names file:line)
    ├── ModelError             the model folder cannot be used
    │   ├── ModelNotFoundError     no model where one was expected
    │   ├── ModelCorruptError      files missing, truncated or unloadable
    │   └── ModelBuildError        export or quantization failed
    ├── NotFoundError          a request names something that does not exist
    │   ├── UnknownNpcError
    │   └── UnknownSessionError
    ├── InvalidInputError      a request's content is unacceptable
    ├── StaleSessionError      another server moved the session on; send the turn again
    ├── PermissionDeniedError  a request reaches for something it may not
    └── OverloadedError        the server is at capacity now; retry later
        └── BatchFullError         no decode batch row is free (admission should prevent it)

Only ``npc_runtime.server.status`` maps these to gRPC status codes.
"""

from __future__ import annotations


class NpcRuntimeError(Exception):
    """Base of every error npc-runtime raises deliberately; its message is user-facing."""


class ConfigError(NpcRuntimeError):
    """Raised when a setting (flag, ``NPC_*`` variable) is malformed."""


class LoreError(NpcRuntimeError):
    """Raised when a world cannot be loaded; the message starts with ``file:line:column``."""


class ModelError(NpcRuntimeError):
    """Raised when the model cannot be built or loaded."""


class ModelNotFoundError(ModelError):
    """Raised when a model folder or its source weights do not exist."""


class ModelCorruptError(ModelError):
    """Raised when a model folder exists but its files are missing, truncated or unloadable."""


class ModelBuildError(ModelError):
    """Raised when exporting or quantizing a model fails."""


class NotFoundError(NpcRuntimeError):
    """Raised when a request names an NPC, session or other object that does not exist."""


class UnknownNpcError(NotFoundError):
    """Raised when no NPC has the requested id."""


class UnknownSessionError(NotFoundError):
    """Raised when no open session has the requested id."""


class InterruptedTurnError(NpcRuntimeError):
    """Raised in a reply whose player spoke again in the same session before it ended."""


class StaleSessionError(NpcRuntimeError):
    """
    Raised when a session's write is refused because the stored session has moved on:
    another server committed a turn of it after this copy was read (each write names the
    version it read; see ``store/sql.py``). Nothing of the refused write is stored, and
    the registry reloads its copy, so the same turn sent again goes on from the stored
    conversation.
    """


class InvalidInputError(NpcRuntimeError):
    """Raised when request content is empty, too long or otherwise unacceptable."""


class PermissionDeniedError(NpcRuntimeError):
    """Raised when a request asks for something outside what it may touch (e.g. a path)."""


class OverloadedError(NpcRuntimeError):
    """
    Raised when a turn cannot be admitted: the active turns and the queue are full, or it
    waited in the queue past the deadline. ``retry_after_s`` is a hint for the client.
    """

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class BatchFullError(OverloadedError):
    """Raised when a decode batch has no row, or no room in a row, for a new sequence."""
