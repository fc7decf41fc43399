"""Django settings of the benchmark workers.

The sample API's apps are imported by their top-level names, so its directory goes on
``sys.path``. The database comes from the environment:

- ``BENCH_DB_ENGINE``: ``sqlite`` (default) or ``postgresql``;
- ``BENCH_DB_NAME``: the SQLite file, or the PostgreSQL database name;
- ``BENCH_DB_HOST``, ``BENCH_DB_PORT``, ``BENCH_DB_USER``, ``BENCH_DB_PASSWORD``.

``DEBUG`` is off, so Django keeps no log of the queries it runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_api"
if str(SAMPLE) not in sys.path:
    sys.path.insert(0, str(SAMPLE))


def _database() -> dict[str, Any]:
    engine = os.environ.get("BENCH_DB_ENGINE", "sqlite")
    name = os.environ.get("BENCH_DB_NAME", "")
    if engine == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": name or ":memory:"}
    if engine == "postgresql":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name or "dap_bench",
            "USER": os.environ.get("BENCH_DB_USER", "postgres"),
            "PASSWORD": os.environ.get("BENCH_DB_PASSWORD", ""),
            "HOST": os.environ.get("BENCH_DB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("BENCH_DB_PORT", "5432"),
        }
    raise ValueError(f"BENCH_DB_ENGINE={engine!r} is not supported; use sqlite or postgresql.")


DATABASES = {"default": _database()}

SECRET_KEY = "benchmarks-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
ALLOWED_HOSTS = ["testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "drf_autoprefetch",
    "chat",
    "library",
    "tickets",
    "benchmarks.benchapp",
]
AUTH_USER_MODEL = "chat.User"
MIDDLEWARE: list[str] = []
ROOT_URLCONF = "benchmarks.urls"

REST_FRAMEWORK = {
    "DEFAULT_PAGINATION_CLASS": "sample_api.pagination.StandardPagination",
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
