"""Publicly verifiable prize draw: pure, database-free core."""
