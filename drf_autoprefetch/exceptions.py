"""Errors raised by drf_autoprefetch."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class PlanError(ImproperlyConfigured):
    """A serializer cannot be planned as declared: a bad ``source``, hint or setting.

    The message names the serializer class, the field path and what to change.
    """


class UnplannedQueryError(AssertionError):
    """In strict mode, a query ran while an optimized response was being serialized."""
