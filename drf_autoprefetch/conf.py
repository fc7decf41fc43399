"""The ``DRF_AUTOPREFETCH`` setting, read through a typed accessor.

Values are cached and refreshed on Django's ``setting_changed`` signal, so
``override_settings`` takes effect.
"""

from __future__ import annotations

from typing import Any, Literal, cast

from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured

__all__ = ["DEFAULTS", "settings"]

SETTING_NAME = "DRF_AUTOPREFETCH"

DEFAULTS: dict[str, Any] = {
    "STRICT": False,
    "ON_UNPLANNABLE": "warn",
    "INFER": True,
    "PRUNE_COLUMNS": "auto",
    "SPLIT": False,
    "TABLE_ROWS": {},
}

ON_UNPLANNABLE_CHOICES = ("warn", "ignore", "raise")
PRUNE_COLUMNS_CHOICES = ("auto", True, False)


class Settings:
    """Typed access to ``settings.DRF_AUTOPREFETCH`` with defaults filled in."""

    def __init__(self) -> None:
        self._values: dict[str, Any] | None = None

    def _load(self) -> dict[str, Any]:
        user = getattr(django_settings, SETTING_NAME, {}) or {}
        if not isinstance(user, dict):
            raise ImproperlyConfigured(f"{SETTING_NAME} must be a dict, not {user!r}.")
        unknown = sorted(set(user) - set(DEFAULTS))
        if unknown:
            raise ImproperlyConfigured(
                f"Unknown {SETTING_NAME} key {unknown[0]!r}, must be one of: "
                f"{', '.join(sorted(DEFAULTS))}."
            )
        values = {**DEFAULTS, **user}
        if values["ON_UNPLANNABLE"] not in ON_UNPLANNABLE_CHOICES:
            raise ImproperlyConfigured(
                f"{SETTING_NAME}['ON_UNPLANNABLE'] is {values['ON_UNPLANNABLE']!r}, must be "
                f"one of: {', '.join(repr(choice) for choice in ON_UNPLANNABLE_CHOICES)}."
            )
        if values["PRUNE_COLUMNS"] not in PRUNE_COLUMNS_CHOICES:
            raise ImproperlyConfigured(
                f"{SETTING_NAME}['PRUNE_COLUMNS'] is {values['PRUNE_COLUMNS']!r}, must be "
                "'auto', True or False."
            )
        if not (values["SPLIT"] is False or values["SPLIT"] == "auto"):  # not 0, not True
            raise ImproperlyConfigured(
                f"{SETTING_NAME}['SPLIT'] is {values['SPLIT']!r}, must be 'auto' or False."
            )
        _check_table_rows(values["TABLE_ROWS"])
        for name in ("STRICT", "INFER"):
            if not isinstance(values[name], bool):
                raise ImproperlyConfigured(
                    f"{SETTING_NAME}[{name!r}] must be True or False, not {values[name]!r}."
                )
        return values

    def _get(self, name: str) -> Any:
        if self._values is None:
            self._values = self._load()
        return self._values[name]

    @property
    def STRICT(self) -> bool:
        return cast(bool, self._get("STRICT"))

    @property
    def INFER(self) -> bool:
        return cast(bool, self._get("INFER"))

    @property
    def PRUNE_COLUMNS(self) -> Literal["auto", True, False]:
        return cast('Literal["auto", True, False]', self._get("PRUNE_COLUMNS"))

    @property
    def ON_UNPLANNABLE(self) -> Literal["warn", "ignore", "raise"]:
        return cast('Literal["warn", "ignore", "raise"]', self._get("ON_UNPLANNABLE"))

    @property
    def SPLIT(self) -> Literal["auto", False]:
        return cast('Literal["auto", False]', self._get("SPLIT"))

    @property
    def TABLE_ROWS(self) -> dict[str, float]:
        return cast("dict[str, float]", self._get("TABLE_ROWS"))

    def reload(self) -> None:
        self._values = None


def _check_table_rows(value: Any) -> None:
    """``TABLE_ROWS`` maps model labels (``"app_label.Model"``) to row counts."""
    if not isinstance(value, dict):
        raise ImproperlyConfigured(
            f"{SETTING_NAME}['TABLE_ROWS'] must be a dict of model labels to row counts, "
            f"such as {{'shop.Product': 5000}}, not {value!r}."
        )
    for key, rows in value.items():
        if not isinstance(key, str) or key.count(".") != 1:
            raise ImproperlyConfigured(
                f"{SETTING_NAME}['TABLE_ROWS'] key {key!r} is not a model label; write "
                "'app_label.ModelName'."
            )
        if isinstance(rows, bool) or not isinstance(rows, (int, float)) or rows < 0:
            raise ImproperlyConfigured(
                f"{SETTING_NAME}['TABLE_ROWS'][{key!r}] is {rows!r}, must be a number of "
                "rows (0 or more)."
            )


settings = Settings()


def _refresh(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        settings.reload()


def connect_signals() -> None:
    from django.core.signals import setting_changed

    setting_changed.connect(_refresh, dispatch_uid="drf_autoprefetch.conf")


connect_signals()
