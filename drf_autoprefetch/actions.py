"""Which serializer a view's extra action renders its rows with.

An ``@action`` may read its rows through the view (``self.get_object()``,
``self.get_queryset()``) and render them with a serializer class it names itself
(``BriefSerializer(rows, many=True).data``), or render no row at all
(``Response({"state": obj.state})``). The plan of the view's serializer would then load
what nobody reads: one query per prefetch, for nothing. The action's source is read
(never run): where it never asks the view for a serializer and calls nothing of the view
but :data:`PLAIN_VIEW_METHODS`, its rows get the plan of the one serializer class it builds, or
none where it builds none (or several). Code that cannot be read, calls other code of
the view, or hands the view to other code keeps the view serializer's plan, as before.
"""

from __future__ import annotations

import ast
import inspect
import weakref
from typing import Any

from drf_autoprefetch.inference.reading import function_node

__all__ = ["PLAIN_VIEW_METHODS", "action_serializer"]

#: What :func:`action_serializer` says of an action that renders through the view's
#: serializer, or whose code does not say.
_VIEW_SERIALIZER: tuple[bool, type[Any] | None] = (False, None)

#: View methods an action may call without rendering through the view's serializer:
#: DRF's row access and paging, the permission checks, and the serializer context.
PLAIN_VIEW_METHODS = frozenset(
    {
        "check_object_permissions",
        "check_permissions",
        "filter_queryset",
        "get_object",
        "get_paginated_response",
        "get_queryset",
        "get_serializer_context",
        "paginate_queryset",
    }
)

#: Names through which an action reaches the view's serializer.
_SERIALIZER_NAMES = frozenset({"get_serializer", "get_serializer_class", "serializer_class"})

_found: weakref.WeakKeyDictionary[type, dict[str, tuple[bool, type[Any] | None]]] = (
    weakref.WeakKeyDictionary()
)


def action_serializer(view_class: type, action: str) -> tuple[bool, type[Any] | None]:
    """Whether the code of the extra action ``action`` of ``view_class`` says which
    serializer class renders its rows, and that class (``None``: it builds none, or
    several), see the module; ``(False, None)`` where it renders through the view's
    serializer, or does not say."""
    known = _found.setdefault(view_class, {})
    if action not in known:
        known[action] = _read(view_class, getattr(view_class, action, None))
    return known[action]


def _read(view_class: type, function: Any) -> tuple[bool, type[Any] | None]:
    if not getattr(function, "mapping", None):  # not an @action
        return _VIEW_SERIALIZER
    function = inspect.unwrap(function)
    node = function_node(function)
    if node is None or not node.args.args:
        return _VIEW_SERIALIZER
    view = node.args.args[0].arg
    if not all(_allowed(each, view, view_class) for each in ast.walk(node)):
        return _VIEW_SERIALIZER
    built = _serializers_built(node, getattr(function, "__globals__", {}))
    return True, built[0] if len(built) == 1 else None


def _serializers_built(node: ast.AST, scope: dict[str, Any]) -> list[type]:
    """The serializer classes ``node`` calls by a global name (or an attribute of one),
    in order, once each."""
    from rest_framework.serializers import BaseSerializer

    found: list[type] = []
    for each in ast.walk(node):
        if isinstance(each, ast.Call):
            value = _global(each.func, scope)
            if isinstance(value, type) and issubclass(value, BaseSerializer):
                found.append(value)
    return list(dict.fromkeys(found))


def _global(node: ast.expr, scope: dict[str, Any]) -> Any:
    """What a global name, or an attribute of one (``serializers.BookSerializer``), is."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name) or node.id not in scope:
        return None
    value = scope[node.id]
    for name in reversed(names):
        value = inspect.getattr_static(value, name, None)
    return value


def _allowed(node: ast.AST, view: str, view_class: type) -> bool:
    """Whether ``node`` keeps the action clear of the view's serializer and of other
    code of the view."""
    if isinstance(node, ast.Attribute) and node.attr in _SERIALIZER_NAMES:
        return False
    if isinstance(node, ast.Name) and node.id in _SERIALIZER_NAMES:
        return False
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == view
        and _other_code(view_class, node.attr)
    ):
        return False
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id == "super":
            return False
        arguments = [*node.args, *(keyword.value for keyword in node.keywords)]
        if any(isinstance(each, ast.Name) and each.id == view for each in arguments):
            return False  # the view handed to other code
    return True


def _other_code(view_class: type, name: str) -> bool:
    """Whether ``name`` on the view is code other than :data:`PLAIN_VIEW_METHODS` (a
    method or a property of the view's), rather than a value (``self.request``)."""
    if name in PLAIN_VIEW_METHODS:
        return False
    try:
        member = inspect.getattr_static(view_class, name)
    except AttributeError:
        return False  # set on the instance: request, kwargs, format_kwarg, action
    return callable(member) or hasattr(member, "__get__")  # a method, a property
