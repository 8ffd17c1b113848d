"""Serving: gunicorn settings, access log, logging, warm-up before fork."""
