# gunicorn with Uvicorn workers: the seed's deployment shape.
import os

bind = os.environ.get("FALCON_REF_BIND", "127.0.0.1:8001")
workers = int(os.environ.get("FALCON_REF_WORKERS", "2"))
worker_class = "uvicorn.workers.UvicornWorker"
preload_app = False
accesslog = None
loglevel = "warning"
timeout = 60
