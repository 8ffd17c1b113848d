"""gunicorn settings: `gunicorn -c quiz/gunicorn.conf.py wsgi:app`.

The app factory is preload-safe: database engines are created lazily in each
worker (quiz.db.Database re-creates them after fork).
"""

import multiprocessing
import os

bind = os.environ.get("QUIZ_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
# Sync workers: requests are short; long exports stream or run in the background.
worker_class = "sync"
timeout = int(os.environ.get("QUIZ_WORKER_TIMEOUT", "60"))
graceful_timeout = 30
keepalive = 5
max_requests = 5000
max_requests_jitter = 500
preload_app = os.environ.get("QUIZ_PRELOAD", "1") == "1"
accesslog = os.environ.get("QUIZ_ACCESS_LOG", "-")
errorlog = "-"
# One line per request with the request id and the time taken in microseconds.
access_log_format = (
    '%(h)s "%(r)s" %(s)s %(B)s %(D)sus rid=%({x-request-id}o)s ua="%(a)s"'
)
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
