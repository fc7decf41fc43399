"""Which serializer a view's extra action renders its rows with.

An ``@action`` may read its rows through the view (``self.get_object()``,
``self.get_queryset()``) and render them with a serializer class it names itself
(``BriefSerializer(rows, many=True).data``), or render no row at all
(``Response({"state": obj.state})``). The plan of the view's serializer would then load
what nobody reads: one query per prefetch, for nothing. The action's source is read
(never run): where it never asks the view for a serializer and calls nothing of the view
but :data:`PLAIN_VIEW_METHODS` and methods of the project's view code read the same way
(a download helper), its rows get the plan of the one serializer class they build, or
none where they build none (or several). Code that cannot be read, calls other code of
the view (a property, DRF's), or hands the view to other code keeps the view
serializer's plan, as before.
"""

from __future__ import annotations

import ast
import inspect
import weakref
from typing import Any

from drf_autoprefetch.inference.reading import function_node

__all__ = ["PLAIN_VIEW_METHODS", "action_serializer", "calls_super"]

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
        "permission_denied",
        "throttled",
    }
)

#: Names through which an action reaches the view's serializer.
_SERIALIZER_NAMES = frozenset({"get_serializer", "get_serializer_class", "serializer_class"})

_found: weakref.WeakKeyDictionary[type, dict[str, tuple[bool, type[Any] | None]]] = (
    weakref.WeakKeyDictionary()
)


def action_serializer(
    view_class: type, action: str, method: str | None = None
) -> tuple[bool, type[Any] | None]:
    """Whether the code of the extra action ``action`` of ``view_class`` says which
    serializer class renders its rows, and that class (``None``: it builds none, or
    several), see the module; ``(False, None)`` where it renders through the view's
    serializer, or does not say. Given the request's ``method``, the branches of the
    action for other methods (``if request.method == "POST":``) are left out."""
    known = _found.setdefault(view_class, {})
    key = f"{action} {method}" if method else action
    if key not in known:
        known[key] = _read(view_class, action, method)
    return known[key]


def _read(view_class: type, action: str, method: str | None) -> tuple[bool, type[Any] | None]:
    function = getattr(view_class, action, None)
    if not _extra_action(view_class, action, function):
        return _VIEW_SERIALIZER
    built = _read_code(view_class, function, set(), method)
    if built is None:
        return _VIEW_SERIALIZER
    built = list(dict.fromkeys(built))
    return True, built[0] if len(built) == 1 else None


def _extra_action(view_class: type, action: str, function: Any) -> bool:
    """Whether ``action`` names an ``@action`` of ``view_class``, or a handler mapped to
    one for another method (``@resolve.mapping.post``)."""
    if getattr(function, "mapping", None):
        return True
    extra = getattr(view_class, "get_extra_actions", None)
    return extra is not None and any(
        action in (getattr(each, "mapping", None) or {}).values() for each in extra()
    )


#: How many methods of the view the reading of one action follows, at most.
_FOLLOWED = 8


def _read_code(
    view_class: type, function: Any, followed: set[str], method: str | None = None
) -> list[type] | None:
    """The serializer classes ``function`` builds, and the methods of the view's own it
    calls (a download helper); ``None`` where any of them reaches the view's serializer,
    hands the view to other code or cannot be read. ``method``: the request's, whose
    branches alone are read in ``function`` itself."""
    function = inspect.unwrap(function)
    node = function_node(function)
    if node is None or not node.args.args:
        return None
    if method is not None:
        names = {f"{node.args.args[0].arg}.request.method", "request.method"}
        if len(node.args.args) > 1:
            names.add(f"{node.args.args[1].arg}.method")
        node = _ForMethod(method.upper(), names).visit(node)
    view = node.args.args[0].arg
    built = _serializers_built(node, getattr(function, "__globals__", {}))
    for each in ast.walk(node):
        called = _called_method(each, view, view_class)
        if called is not None:
            if called in followed:
                continue
            if len(followed) >= _FOLLOWED:
                return None
            followed.add(called)
            deeper = _read_code(view_class, getattr(view_class, called), followed)
            if deeper is None:
                return None
            built.extend(deeper)
        elif not _allowed(each, view, view_class):
            return None
    return built


def _called_method(node: ast.AST, view: str, view_class: type) -> str | None:
    """The name of a method of the project's view code that ``node`` reads off the view
    (``self.download_file``), which can be read in turn."""
    if not (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == view
        and node.attr not in _SERIALIZER_NAMES
        and _other_code(view_class, node.attr)
    ):
        return None
    for klass in view_class.__mro__:
        member = vars(klass).get(node.attr)
        if member is None:
            continue
        drf = klass.__module__.startswith("rest_framework.")
        return node.attr if inspect.isfunction(member) and not drf else None
    return None


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
        handed = any(isinstance(each, ast.Name) and each.id == view for each in arguments)
        if handed and not _filters(node):
            return False  # the view handed to other code
    return True


def _filters(node: ast.Call) -> bool:
    """``Backend().filter_queryset(request, rows, self)``: a filter backend, given the
    view as DRF gives it, to read its settings."""
    return isinstance(node.func, ast.Attribute) and node.func.attr == "filter_queryset"


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


def calls_super(function: Any, name: str) -> bool:
    """Whether the source of ``function`` calls ``super().<name>(...)`` (an override of a
    view method that hands over to DRF's after code of its own)."""
    node = function_node(inspect.unwrap(function)) if inspect.isfunction(function) else None
    if node is None:
        return False
    return any(
        isinstance(each, ast.Call)
        and isinstance(each.func, ast.Attribute)
        and each.func.attr == name
        and _is_super_call(each.func.value)
        for each in ast.walk(node)
    )


def _is_super_call(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


class _ForMethod(ast.NodeTransformer):
    """An action's code as it runs for one request method: ``if request.method ==
    "POST":`` (``!=``, ``in (...)``, ``self.request.method``) replaced by the branch that
    method takes."""

    def __init__(self, method: str, names: set[str]) -> None:
        self.method = method
        #: How the code spells the request's method (``request.method``).
        self.names = names

    def visit_If(self, node: ast.If) -> Any:
        self.generic_visit(node)
        taken = self._taken(node.test)
        if taken is None:
            return node
        return (node.body if taken else node.orelse) or ast.Pass()

    def _taken(self, test: ast.AST) -> bool | None:
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
            return None
        left, operator, right = test.left, test.ops[0], test.comparators[0]
        if ast.unparse(left) not in self.names:
            return None
        methods = _constants(right)
        if methods is None:
            return None
        if isinstance(operator, (ast.Eq, ast.In)):
            return self.method in methods
        if isinstance(operator, (ast.NotEq, ast.NotIn)):
            return self.method not in methods
        return None


def _constants(node: ast.AST) -> set[str] | None:
    """The upper-cased method names a constant or a tuple, list or set of them holds."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value.upper()}
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        found = [_constants(each) for each in node.elts]
        if all(each is not None for each in found):
            return {name for each in found if each is not None for name in each}
    return None
