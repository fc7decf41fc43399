"""Whether a serializer builds its fields from its arguments alone.

A serializer whose fields depend on how it is built has its plan cached by the keyword
arguments and the context keys its code read. That key holds only where nothing else
decides the fields: the code of ``__init__``, ``get_fields``, ``get_field_names`` and
``fields`` may call methods of ``self``, ``super()``, its arguments and locals, Python's
builtins and classes (building a nested serializer, reading a model's rows), but no other
function or object (a thread-local current user, a context variable, settings). Code
that does, or whose source cannot be read, is planned from an instance built for each
request, as the planner always did.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import inspect
import textwrap
import weakref
from collections.abc import Iterator
from typing import Any

__all__ = ["builds_from_arguments"]

#: Builtins whose calls read nothing but their arguments.
_PURE_BUILTINS = frozenset(
    {
        "all", "any", "bool", "dict", "enumerate", "filter", "frozenset", "getattr",
        "hasattr", "int", "isinstance", "issubclass", "iter", "len", "list", "map", "max",
        "min", "next", "range", "reversed", "set", "sorted", "str", "super", "tuple",
        "type", "zip",
    }
)  # fmt: skip


def builds_from_arguments(cls: type, members: tuple[str, ...], skip: tuple[str, ...]) -> bool:
    """Whether every override of ``members`` in ``cls``'s MRO, outside the modules
    ``skip`` names the roots of, reads only what is allowed (see the module)."""
    return all(_closed(function) for function in _overrides(cls, members, skip))


def _overrides(cls: type, members: tuple[str, ...], skip: tuple[str, ...]) -> Iterator[Any]:
    for klass in cls.__mro__:
        if klass is object or klass.__module__.split(".", 1)[0] in skip:
            continue
        for name in members:
            member = vars(klass).get(name)
            if member is None:
                continue
            for attribute in ("fget", "func"):  # property, cached_property
                member = getattr(member, attribute, member)
            yield member


#: What :func:`_closed` found of each function, for as long as the function lives.
_found: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()


def _closed(function: Any) -> bool:
    try:
        return _found[function]
    except (KeyError, TypeError):  # not seen, or not weakly referable
        pass
    found = _reads_only_what_is_allowed(function)
    with contextlib.suppress(TypeError):
        _found[function] = found
    return found


def _reads_only_what_is_allowed(function: Any) -> bool:
    try:
        source = textwrap.dedent(inspect.getsource(function))
        tree = ast.parse(source)
    except (OSError, TypeError, SyntaxError):
        return False
    allowed = _locals(tree)
    scope = getattr(function, "__globals__", {})
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and not _allowed_call(node.func, allowed, scope):
            return False
    return True


def _locals(tree: ast.AST) -> set[str]:
    """Parameters and names assigned in the function (loop targets, with, walrus)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.arg):
            names.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
    return names


def _allowed_call(target: ast.expr, allowed: set[str], scope: dict[str, Any]) -> bool:
    root = target
    while isinstance(root, (ast.Attribute, ast.Subscript, ast.Call)):
        root = root.func if isinstance(root, ast.Call) else root.value
    if not isinstance(root, ast.Name):
        return True  # a call on a literal or a comprehension's result
    name = root.id
    if name in allowed or name in _PURE_BUILTINS:
        return True
    value = scope.get(name, getattr(builtins, name, None))
    return isinstance(value, type) and not hasattr(builtins, name)
