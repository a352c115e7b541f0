"""Persistence: quest states and sessions (SQLite)."""
