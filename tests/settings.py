"""Settings for the test suite.

The database comes from ``DB_BACKEND`` (``sqlite`` by default, ``postgresql`` or
``mysql``); host, port, user and password default to the local services and can be
overridden with ``DB_HOST``, ``DB_PORT``, ``DB_USER``, ``DB_PASSWORD`` and ``DB_NAME``.
A second alias, ``other``, on the same server serves the multi-database tests.
"""

from __future__ import annotations

import os
from typing import Any

DB_BACKEND = os.environ.get("DB_BACKEND", "sqlite")


def _database(alias: str) -> dict[str, Any]:
    name = os.environ.get("DB_NAME", "drf_autoprefetch")
    if DB_BACKEND == "sqlite":
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:", "TEST": {}}
    if DB_BACKEND == "postgresql":
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": f"{name}_{alias}",
            "USER": os.environ.get("DB_USER", "postgres"),
            "PASSWORD": os.environ.get("DB_PASSWORD", ""),
            "HOST": os.environ.get("DB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("DB_PORT", "5432"),
            "TEST": {"NAME": f"test_{name}_{alias}"},
        }
    if DB_BACKEND == "mysql":
        import pymysql

        pymysql.install_as_MySQLdb()
        return {
            "ENGINE": "django.db.backends.mysql",
            "NAME": f"{name}_{alias}",
            "USER": os.environ.get("DB_USER", "root"),
            "PASSWORD": os.environ.get("DB_PASSWORD", ""),
            "HOST": os.environ.get("DB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("DB_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {"NAME": f"test_{name}_{alias}", "CHARSET": "utf8mb4"},
        }
    raise ValueError(
        f"DB_BACKEND={DB_BACKEND!r} is not supported; use sqlite, postgresql or mysql."
    )


DATABASES = {"default": _database("default"), "other": _database("other")}

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "rest_framework",
    "taggit",
    "debug_toolbar",
    "drf_autoprefetch",
    "tests.testapp",
]

MIDDLEWARE: list[str] = []
ROOT_URLCONF = "tests.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]

REST_FRAMEWORK = {
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

STATIC_URL = "/static/"
