"""Mapping what code reads onto a model's relations, following the model's own code.

Chains from :mod:`~drf_autoprefetch.inference.reading` are walked with Django's
metadata: a relation is loaded, a column ends the chain, a property or method of the
model is read in turn (bounded depth, never twice), and text rendering of an object
follows its model's ``__str__``. Only loads are inferred, never annotations or filters.
"""

from __future__ import annotations

import inspect
import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from django.db.models import Model

from drf_autoprefetch import contextual
from drf_autoprefetch.inference.reading import (
    DEFEATING,
    LOADED,
    PREFETCH_CACHE,
    ROWS,
    Access,
    Path,
    Reading,
    read_function,
)
from drf_autoprefetch.modelinfo import display_column, model_attrs
from drf_autoprefetch.tree import Conditions, Kind, also_read

__all__ = ["WRITES", "Inferred", "LeftAlone", "code_of", "infer"]

#: How many properties or methods deep the inference follows the model's own code.
MAX_DEPTH = 4

#: Model methods that write or reload the row (Label Studio's ``get_parsed_config()``
#: saves the project): what they read serves the write, not the response, and loading
#: it for every row (all of a project's tasks, to count them in ``save()``) would cost
#: more than the write itself. They are not followed.
WRITES = frozenset(
    {
        "clean",
        "clean_fields",
        "delete",
        "full_clean",
        "refresh_from_db",
        "save",
        "save_base",
        "validate_unique",
    }
)


@dataclass(frozen=True)
class LeftAlone:
    """Relations whose loading some code reads (``"items" in obj._prefetched_objects_cache``):
    loading them would change what that code returns, so the plan must not."""

    #: The lookup path of the object whose relations they are (``""``: the code's subject).
    path: str
    #: The relation the code asks about; ``None``: it asks about any of them.
    name: str | None
    #: To-many relations (Django's prefetch cache), or to-one ones (its fields cache).
    many: bool


@dataclass(frozen=True)
class NestedIn:
    """A serializer class some code builds over the rows of a lookup path."""

    path: str
    serializer: type
    #: What spares it (as for :attr:`Inferred.unless`; empty: nothing does).
    unless: frozenset[str]
    #: Built with the context of the code building it (``context=self.context``).
    same_context: bool


@dataclass
class Inferred:
    """Relations one piece of code reads, with where each was inferred from."""

    #: ``"a__b"`` lookup path -> provenance (``"Serializer.get_x -> Model.__str__"``).
    paths: dict[str, str] = field(default_factory=dict)
    #: ``"a__b"`` -> what, provided on the rows, spares each of its reads (lookup paths
    #: of names a guard asks about, see :class:`~drf_autoprefetch.inference.reading.Access`);
    #: ``None`` where some read is made whatever the rows provide.
    unless: dict[str, Conditions] = field(default_factory=dict)
    #: Serializer classes the code builds over the rows of a lookup path.
    nested: list[NestedIn] = field(default_factory=list)
    #: What stays unoptimized and why; empty when the code is fully understood.
    problems: list[str] = field(default_factory=list)
    #: For some problems, the ``@hints(...)`` line that would plan what they read.
    hints: dict[str, str] = field(default_factory=dict)
    #: Relations the plan must leave unloaded, since the code reads whether they are.
    left_alone: list[LeftAlone] = field(default_factory=list)

    def load(self, path: Path, origin: str, unless: frozenset[str] = frozenset()) -> None:
        key = "__".join(path)
        self.paths.setdefault(key, origin)
        self.unless[key] = also_read(self.unless.get(key, ()), (unless,) if unless else None)


@dataclass(frozen=True)
class _Step:
    """Where the resolver stands: the owner chain for provenance, the code being read
    (named in problems, so one cause reads the same wherever it is met), and what it
    follows."""

    origin: str
    owner: str
    prefix: Path = ()
    depth: int = 0
    stack: tuple[tuple[type, str], ...] = ()
    #: The guards the code followed sits behind, as lookup paths (see :class:`Inferred`).
    unless: frozenset[str] = frozenset()


def infer(model: type[Model], function: Any, subject: int, origin: str) -> Inferred | None:
    """What ``function`` (whose parameter ``subject`` receives a ``model`` instance)
    reads, as relations of ``model``; ``None`` when its source cannot be read."""
    reading = read_function(function, subject)
    if reading is None:
        return None
    result = Inferred()
    _resolve_reading(model, reading, result, _Step(origin, origin))
    return result


def _resolve_reading(model: type[Model], reading: Reading, result: Inferred, step: _Step) -> None:
    for access in reading.accesses:
        _resolve(model, access, result, step)
    _resolve_defeated(model, reading, result, step)
    for path, cache, name in reading.loading_state:
        _leave_alone(model, path, cache == PREFETCH_CACHE, name, result, step)
    for path, callee in reading.handed:
        if _holds_object(model, path):
            result.problems.append(_handed(step.owner, path, callee))
    if reading.rebound:
        result.problems.append(
            f"{step.owner} replaces the object it is given with another one; what it reads "
            "from that one is not planned."
        )
    for nested in reading.nested:
        relation = _relation_path(model, nested.path)
        if relation is not None:
            unless = _guards(model, nested.unless, step)
            through = "__".join(step.prefix + relation)
            result.nested.append(NestedIn(through, nested.serializer, unless, nested.same_context))


def _resolve_defeated(model: type[Model], reading: Reading, result: Inferred, step: _Step) -> None:
    """The queries ``reading`` runs on a relation's rows, which no prefetch serves."""
    for path, method, arguments in reading.defeated:
        target = _related_manager(model, path)
        if target is None:
            # Not the rows of a relation (a dict's .get(), a query on a class), unless a
            # property or method of the model gives them: its code is read in turn.
            _resolve(model, Access(path), result, step)
            continue
        names = [name for name in path if name != ROWS]
        call = (
            f"combines {'.'.join(names)} with {method}"
            if method in "|&"
            else (f"calls .{method}() on {'.'.join(names)}")
        )
        problem = (
            f"{step.owner} {call}, a query of its own for each row that no prefetch "
            "serves; declare a Prefetch(..., to_attr=...) in @hints(...) and read that "
            "attribute instead."
        )
        result.problems.append(problem)
        if method not in "|&":
            result.hints[problem] = (
                f'@hints(prefetch_related=[Prefetch("{"__".join(names)}", '
                f"queryset={target.__name__}.objects.{method}({arguments}), "
                f'to_attr="{names[-1]}_{method}")]) on {step.owner}'
            )


def _leave_alone(
    model: type[Model], path: Path, many: bool, name: str | None, result: Inferred, step: _Step
) -> None:
    """Code reading whether a relation of the object at ``path`` is loaded: the plan
    leaves it unloaded (every such relation of that object, when ``name`` is not known)."""
    names = tuple(each for each in path if each != ROWS)
    where = ".".join(names) or "the object"
    kind = "to-many" if many else "single-valued"
    what = (
        f"whether {'.'.join((*names, name))} is loaded"
        if name
        else f"which {kind} relations of {where} are loaded"
    )
    cache = "its prefetch cache" if many else "its fields cache"
    relation = _relation_path(model, names)
    if relation is None:
        result.problems.append(
            f"{step.owner} reads {what} ({cache}); loading it could change what the code "
            "returns, and the planner cannot tell which rows it is: decorate the code "
            "with @hints(...) naming what it reads."
        )
        return
    result.left_alone.append(LeftAlone("__".join(step.prefix + relation), name, many))
    them = "it" if name else "them"
    result.problems.append(
        f"{step.owner} reads {what} ({cache}), so loading {them} would change what the "
        f"code returns: the plan leaves {them} unloaded. Decorate the code with "
        "@hints(...) naming what it reads to plan it as declared."
    )


def _resolve(model: type[Model], access: Access, result: Inferred, step: _Step) -> None:
    if access.unless:
        step = replace(step, unless=_guards(model, access.unless, step))
    current: type[Model] | None = model
    walked: Path = ()
    names = access.path
    for index, name in enumerate(names):
        if name == ROWS:
            continue  # each row of the relation just walked: the same model
        if current is None:  # past a generic foreign key: the target model is unknown
            return
        attr = model_attrs(current).get(name)
        if attr is not None:
            if attr.kind is None:
                return  # a column: nothing to load
            if attr.kind is Kind.PREFETCH and not _rows_read(names[index + 1 :], access.how):
                return  # the manager itself (``obj.items.model``): no row is read
            if access.how == "count" and index == len(names) - 1 and _loads_costly(attr.model):
                return  # one COUNT per row, where each prefetched row would cost queries
            walked = (*walked, name)
            result.load(step.prefix + walked, step.origin, step.unless)
            current = attr.model
            continue
        _follow_member(current, name, result, step, walked)
        return  # what a member returns is not followed further
    if access.how == "text" and current is not None:
        _follow_member(current, "__str__", result, step, walked)


def _follow_member(
    model: type[Model], name: str, result: Inferred, step: _Step, walked: Path
) -> None:
    """Read a property or method of ``model`` (reached at ``walked``) in turn."""
    if display_column(model, name) is not None or name in WRITES:
        return
    try:
        member = inspect.getattr_static(model, name)
    except AttributeError:
        return  # set on the instance at run time (an annotation, a view's attribute)
    function = code_of(member)
    if function is None or _framework_code(function):
        return
    owner = f"{model.__name__}.{name}"
    origin = f"{step.origin} -> {owner}"
    if step.depth >= MAX_DEPTH or (model, name) in step.stack:
        return  # followed deep enough, or already being followed
    reading = read_function(function, 0)
    if reading is None:
        result.problems.append(f"{owner}: its source cannot be read.")
        return
    stack = (*step.stack, (model, name))
    inner = _Step(origin, owner, step.prefix + walked, step.depth + 1, stack, step.unless)
    _resolve_reading(model, reading, result, inner)


def code_of(member: Any) -> Any:
    """The function behind a property, cached property or method; ``None`` otherwise."""
    if isinstance(member, property):
        return member.fget
    for attribute in ("func", "__func__"):  # cached_property, staticmethod, classmethod
        inner = getattr(member, attribute, None)
        if inner is not None and inspect.isfunction(inner):
            return inner
    return member if inspect.isfunction(member) else None


def _framework_code(function: Any) -> bool:
    """Django's own model code (``Model.__str__``): nothing of the user's to follow."""
    return str(getattr(function, "__module__", "")).startswith("django.")


#: Model classes -> whether building an instance from a row may run queries.
_costly: weakref.WeakKeyDictionary[type, bool] = weakref.WeakKeyDictionary()

#: Methods of a model that run as an instance is built from a row.
_LOADING = ("__init__", "from_db")


def _loads_costly(model: type[Model] | None) -> bool:
    """Whether building an instance of ``model`` from a row may run queries: its own
    ``__init__`` or ``from_db()`` reads a relation (Modoboa's mailboxes read their
    domain), or cannot be read, or it has a ``__getattr__``. Prefetching such rows only to
    count them would cost queries per row where the code's ``COUNT`` costs one."""
    if model is None:
        return False
    if model not in _costly:
        _costly[model] = any(_loading_reads(model, klass) for klass in model.__mro__)
    return _costly[model]


def _loading_reads(model: type[Model], klass: type) -> bool:
    if klass.__module__.startswith("django.") or klass is object:
        return False
    if "__getattr__" in vars(klass):
        return True
    for name in _LOADING:
        function = code_of(vars(klass).get(name))
        if function is None:
            continue
        reading = read_function(function, 0)
        if reading is None:
            return True
        found = Inferred()
        owner = f"{klass.__name__}.{name}"
        _resolve_reading(model, reading, found, _Step(owner, owner))
        if found.paths or found.problems:
            return True
    return False


def _guards(model: type[Model], paths: Iterable[Path], step: _Step) -> frozenset[str]:
    """What spares code behind the guards ``paths``, and behind those of ``step``."""
    guards = (_guard(model, path, step.prefix) for path in paths)
    return step.unless | {each for each in guards if each}


def _guard(model: type[Model], path: Path, prefix: Path) -> str | None:
    """The lookup path a guard asks about (see ``_Reader.guard``): a relation it asks is
    loaded, or an attribute a view may set on the rows; ``None`` for an attribute the
    model has (``hasattr(obj, "profile")`` asks whether a related row exists). A test of
    the context is its condition (:mod:`drf_autoprefetch.contextual`) as it is."""
    if len(path) == 1 and contextual.is_condition(path[0]):
        return path[0]
    names = tuple(name for name in path if name != ROWS)
    if LOADED in names:
        return "__".join((*prefix, *(name for name in names if name != LOADED)))
    *owner, name = names
    current: type[Model] | None = model
    for each in owner:
        attr = model_attrs(current).get(each) if current is not None else None
        if attr is None or attr.kind is None:
            return None
        current = attr.model
    if current is None or name in model_attrs(current):
        return None
    return "__".join((*prefix, *names))


def _rows_read(rest: Path, how: str) -> bool:
    """Whether a to-many relation followed by ``rest`` in a chain has its rows read."""
    if not rest:
        return how in ("rows", "count")
    return rest[0] == ROWS


def _related_manager(model: type[Model], path: Path) -> type[Model] | None:
    """The model of the rows ``path`` names, when it names a to-many relation's rows."""
    names = [name for name in path if name != ROWS]
    current: type[Model] | None = model
    kind = None
    for name in names:
        attr = model_attrs(current).get(name) if current is not None else None
        if attr is None or attr.kind is None:
            return None
        kind, current = attr.kind, attr.model
    return current if kind is Kind.PREFETCH else None


def _handed(origin: str, path: Path, callee: str) -> str:
    names = [name for name in path if name != ROWS]
    where = ".".join(names) or "the object"
    if path[-1:] == (ROWS,):
        where = f"the rows of {where}"
    if ".objects." in callee or callee.rstrip("()").rpartition(".")[2] in DEFEATING:
        return (
            f"{origin} runs a query of its own for each row ({callee} on {where}), which no "
            "prefetch serves; declare a Prefetch(..., to_attr=...) in @hints(...) and read "
            "that attribute instead."
        )
    return (
        f"{origin} hands {where} to {callee}, which the planner does not follow; decorate "
        "the code with @hints(...) naming what it reads."
    )


def _holds_object(model: type[Model], path: Path) -> bool:
    """Whether ``path`` from ``model`` may hold a model instance (not a column value)."""
    current: type[Model] | None = model
    for name in path:
        if name == ROWS:
            continue
        if current is None:
            return True
        attr = model_attrs(current).get(name)
        if attr is None:
            return False  # a member or run-time attribute: its value is not known
        if attr.kind is None:
            return False
        current = attr.model
    return True


def _relation_path(model: type[Model], path: Path) -> Path | None:
    """``path`` when every name in it is a relation (a nested serializer's rows)."""
    current: type[Model] | None = model
    for name in path:
        if name == ROWS:
            continue
        attr = model_attrs(current).get(name) if current is not None else None
        if attr is None or attr.kind is None:
            return None
        current = attr.model
    return path
