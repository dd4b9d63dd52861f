"""Alembic migrations of the shared schema (companion/store/schema.py). One file per change in versions/."""
