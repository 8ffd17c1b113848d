"""Fraud defence (防刷): SMS proof of the mobile, its sending limits and backends."""
