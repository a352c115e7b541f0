"""The status map: each domain error reaches the client with the code it can act on."""

from __future__ import annotations

import grpc

from npc_runtime import errors
from npc_runtime.server.status import code_for


def test_a_session_moved_on_elsewhere_is_aborted_so_the_client_retries() -> None:
    """Another server served the session meanwhile: ABORTED (send the turn again), as for
    a reply cut short, not INTERNAL."""
    assert code_for(errors.StaleSessionError("moved on")) == grpc.StatusCode.ABORTED
    assert code_for(errors.InterruptedTurnError("cut")) == grpc.StatusCode.ABORTED
