"""Shared test helpers (fixtures that start real local servers)."""
