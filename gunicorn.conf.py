"""Production gunicorn settings; see docs/deployment.md. Variables override the defaults."""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
# One thread per worker (gunicorn's sync workers): a free worker takes the oldest waiting
# connection, where a threaded worker accepts connections ahead of its threads and queues them
# behind its own, whatever other workers are free. Under the application rush this halved the
# p95 of every page (docs/performance.md). nginx in front buffers slow clients and uploads.
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
# Merged letter exports of up to 100 letters run inside a request: leave them time.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "120"))
graceful_timeout = 30
# Load Django and WeasyPrint once in the master: workers fork ready, and a recycled worker
# costs a fork, not a second of imports.
preload_app = True
max_requests = 5000
max_requests_jitter = 500
accesslog = "-"
errorlog = "-"
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
wsgi_app = "cerdd_ami.wsgi:application"
