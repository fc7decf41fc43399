"""drf-flex-fields: the fields ``?fields=``, ``?omit=`` and ``?expand=`` render.

Used for every serializer built on ``FlexFieldsSerializerMixin`` that has no
``autoprefetch_selection`` of its own. It reads the options as drf-flex-fields does: the
keyword arguments first, else the query parameters (``?expand=a,b``, repeated
``?expand=a&expand=b``, or ``?expand[]=a``), expansions limited to the context's
``permitted_expands`` when it has them.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from drf_autoprefetch.selection import Selection, top_level

__all__ = ["as_rendered", "selection"]

logger = logging.getLogger("drf_autoprefetch")


def _option(kwargs: Mapping[str, Any], params: Any, name: str) -> list[str]:
    given = [str(value) for value in kwargs.get(name) or ()]
    if given or params is None:
        return given
    values = list(params.getlist(name) or params.getlist(f"{name}[]"))
    if len(values) == 1:
        values = values[0].split(",")
    return [value for value in values if value]


def _wildcards() -> tuple[set[str], set[str]]:
    """The wildcard values of ``?expand=`` and of ``?fields=``: drf-flex-fields 1.x has
    ``WILDCARD_VALUES`` for both, 0.9 ``WILDCARD_EXPAND_VALUES`` for expansions alone."""
    import rest_flex_fields as flex

    if hasattr(flex, "WILDCARD_VALUES"):
        both = set(flex.WILDCARD_VALUES or ())
        return both, both
    return set(getattr(flex, "WILDCARD_EXPAND_VALUES", None) or ()), set()


def selection(cls: type, kwargs: Mapping[str, Any], context: Mapping[str, Any]) -> Selection:
    from rest_flex_fields import EXPAND_PARAM, FIELDS_PARAM, OMIT_PARAM

    params = getattr(context.get("request"), "query_params", None)
    expand_wildcards, field_wildcards = _wildcards()
    expand = _option(kwargs, params, EXPAND_PARAM)
    permitted = context.get("permitted_expands")
    if permitted is not None and not kwargs.get(EXPAND_PARAM):
        expand = (
            list(permitted)
            if expand_wildcards & set(expand)
            else [name for name in expand if name in permitted]
        )
    fields = _option(kwargs, params, FIELDS_PARAM)
    # Root names only: drf-flex-fields applies a dotted path only inside a serializer it
    # expands, never inside a declared one; keeping all below a root field is safe.
    return Selection(
        fields=None if not fields or field_wildcards & set(fields) else top_level(fields),
        omit=[name for name in _option(kwargs, params, OMIT_PARAM) if "." not in name],
        build={EXPAND_PARAM: expand},
    )


def as_rendered(serializer: Any) -> None:
    """Apply to ``serializer`` the options drf-flex-fields applies only once it renders
    (those of the query parameters, in ``to_representation``), as rendering would: an
    instance built to be planned then has the fields the response renders. Left as it is
    where the package keeps them otherwise, or fails to apply them (rendering says why)."""
    options = getattr(serializer, "_flex_options_rep_only", None)
    if options is None or getattr(serializer, "_flex_fields_rep_applied", True):
        return
    try:
        serializer.apply_flex_fields(serializer.fields, options)
    except Exception:  # the same options fail again when it renders, and say why there
        logger.debug("drf-flex-fields options not applied for planning", exc_info=True)
        return
    serializer._flex_fields_rep_applied = True
