"""Persistence: quest states and sessions (SQLite, or PostgreSQL shared by replicas)."""
