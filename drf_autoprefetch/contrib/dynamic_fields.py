"""drf-dynamic-fields: the root fields ``?fields=`` and ``?omit=`` render.

Used for every serializer built on ``DynamicFieldsMixin`` that has no
``autoprefetch_selection`` of its own, read as that mixin reads them: a comma-separated
list each (an empty ``?fields=`` renders no field), on the root serializer only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from drf_autoprefetch.selection import Selection, top_level

__all__ = ["selection"]


def selection(cls: type, kwargs: Mapping[str, Any], context: Mapping[str, Any]) -> Selection:
    request = context.get("request")
    params = getattr(request, "query_params", getattr(request, "GET", None))
    if params is None:
        return Selection()
    fields = params.get("fields")
    omit = params.get("omit")
    return Selection(  # root names: the mixin filters the root serializer only
        fields=None if fields is None else top_level(name for name in fields.split(",") if name),
        omit=[name for name in (omit or "").split(",") if name and "." not in name],
    )
