"""Publicly verifiable prize draw: the pure v1 algorithm and replay, eligibility, the service."""
