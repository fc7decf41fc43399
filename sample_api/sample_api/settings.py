"""Settings of the sample API.

Not for production: the secret key is public and ``DEBUG`` is on unless
``SAMPLE_API_DEBUG=0``. The SQLite file sits next to ``manage.py``; set
``SAMPLE_API_DB`` to use another file.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "sample-api-not-secret"
DEBUG = os.environ.get("SAMPLE_API_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_autoprefetch",
    "chat",
    "library",
    "tickets",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "sample_api.urls"
WSGI_APPLICATION = "sample_api.wsgi.application"
ASGI_APPLICATION = "sample_api.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SAMPLE_API_DB", str(BASE_DIR / "db.sqlite3")),
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The chat app's user model orders users by name, so member lists have a stable order.
AUTH_USER_MODEL = "chat.User"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"

# django-debug-toolbar with the drf_autoprefetch panel: `make serve` sets
# SAMPLE_API_TOOLBAR=1 (the toolbar shows on the browsable API's HTML pages).
TOOLBAR = DEBUG and os.environ.get("SAMPLE_API_TOOLBAR") == "1"
if TOOLBAR:
    from debug_toolbar.settings import PANELS_DEFAULTS

    INSTALLED_APPS.append("debug_toolbar")
    MIDDLEWARE.insert(0, "debug_toolbar.middleware.DebugToolbarMiddleware")
    INTERNAL_IPS = ["127.0.0.1", "::1"]
    DEBUG_TOOLBAR_PANELS = [
        *PANELS_DEFAULTS,
        "drf_autoprefetch.contrib.debug_toolbar.AutoPrefetchPanel",
    ]

REST_FRAMEWORK = {
    "DEFAULT_PAGINATION_CLASS": "sample_api.pagination.StandardPagination",
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "DEFAULT_RENDERER_CLASSES": [
        "rest_framework.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
}

# The room websocket (``sample_api.asgi``) broadcasts through Channels' in-process layer:
# enough for one server process.
CHANNEL_LAYERS = {
    "default": {"BACKEND": "channels.layers.InMemoryChannelLayer"},
}

DRF_AUTOPREFETCH = {
    "STRICT": os.environ.get("SAMPLE_API_STRICT", "0") == "1",
}
