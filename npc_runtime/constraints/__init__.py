"""Lore constraints on what the model writes: the line checker, word bans, grammars."""
