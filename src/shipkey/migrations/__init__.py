"""Alembic migrations (applied with ``shipkey migrate``)."""
