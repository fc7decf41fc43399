"""ASGI entry point of the sample API."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "sample_api.settings")

application = get_asgi_application()
