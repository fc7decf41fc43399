from __future__ import annotations

from django.apps import AppConfig


class DrfAutoprefetchConfig(AppConfig):
    name = "drf_autoprefetch"
    verbose_name = "DRF autoprefetch"

    def ready(self) -> None:
        from django.core import checks

        from drf_autoprefetch.checks import TAG, check_plans
        from drf_autoprefetch.decorators import validate_pending

        checks.register(check_plans, TAG)
        validate_pending()
