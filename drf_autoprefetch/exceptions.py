"""Errors raised by drf_autoprefetch."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured


class PlanError(ImproperlyConfigured):
    """A serializer cannot be planned as declared: a bad ``source``, hint or setting.

    The message names the serializer class, the field path and what to change.
    """


class ModelMismatch(PlanError):
    """A queryset holds rows of another model than the serializer it is planned for.

    DRF renders such rows whenever they have every field the serializer reads, so the
    integrations leave that queryset unoptimized and say so (see
    :func:`drf_autoprefetch.planner.mismatched`); an explicit ``optimize()`` raises it.
    """


class UnplannedQueryError(AssertionError):
    """In strict mode, a query ran while an optimized response was being serialized."""
