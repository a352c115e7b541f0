"""
npc-runtime: an NPC dialogue server whose replies are bound by the game's lore.

Run ``npc-runtime --help``. The wire contract is ``protos/npc/v1``.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
