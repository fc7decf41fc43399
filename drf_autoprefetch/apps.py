from __future__ import annotations

from django.apps import AppConfig


class DrfAutoprefetchConfig(AppConfig):
    name = "drf_autoprefetch"
    verbose_name = "DRF autoprefetch"

    def ready(self) -> None:
        from drf_autoprefetch.decorators import validate_pending

        validate_pending()
