"""Reading a function's source: what it reads from the object it receives.

Only the syntax is read (``ast``); nothing is executed. The result speaks of attribute
chains from the *subject* (the parameter holding the object, ``obj`` or ``self``) and
how each is used; :mod:`drf_autoprefetch.inference.resolving` maps them to relations.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from drf_autoprefetch import contextual

__all__ = ["ROWS", "Access", "Reading", "function_node", "read_function", "renders_alone"]

Path = tuple[str, ...]

#: In a path, the rows of the to-many relation before it (``obj.items.all()``, a loop
#: over it): what follows is read from each row, not from the manager.
ROWS = "*"

#: Manager and QuerySet methods that run a query of their own: a prefetch does not
#: serve them.
DEFEATING = frozenset(
    {
        "aggregate",
        "annotate",
        "dates",
        "datetimes",
        "defer",
        "distinct",
        "earliest",
        "exclude",
        "extra",
        "filter",
        "first",
        "get",
        "get_or_create",
        "in_bulk",
        "iterator",
        "last",
        "latest",
        "only",
        "order_by",
        "prefetch_related",
        "raw",
        "reverse",
        "select_related",
        "union",
        "values",
        "values_list",
    }
)

#: Manager methods a prefetch serves: they read the prefetched rows.
SERVED = frozenset({"all", "count", "exists"})

#: Builtins that only read what they are given (their arguments are read as usual).
_PLAIN_BUILTINS = frozenset(
    {
        "abs",
        "all",
        "any",
        "bool",
        "callable",
        "dict",
        "enumerate",
        "float",
        "frozenset",
        "hasattr",
        "hash",
        "id",
        "int",
        "isinstance",
        "len",
        "list",
        "max",
        "min",
        "reversed",
        "round",
        "set",
        "sorted",
        "sum",
        "tuple",
        "type",
        "zip",
    }
)
_TEXT_BUILTINS = frozenset({"str", "format", "repr"})

#: Where Django keeps what is loaded of an instance: code reading them behaves
#: differently once a relation is loaded (``"items" in obj._prefetched_objects_cache``).
PREFETCH_CACHE = "_prefetched_objects_cache"
FIELDS_CACHE = "fields_cache"  # obj._state.fields_cache: the joined to-one relations
#: In a guard's path (see :meth:`_Reader.guard`): the relation after it is asked about
#: being loaded, not as an attribute.
LOADED = "?loaded"
#: Methods of those dictionaries (and of descriptors) naming the relation they look up.
_CACHE_LOOKUPS = frozenset({"get", "pop", "setdefault", "__contains__", "__getitem__"})


@dataclass(frozen=True)
class Access:
    """One attribute chain read from the subject, and how.

    ``how`` is ``"value"`` (the attribute is read), ``"text"`` (rendered as text: the
    target's ``__str__`` runs), ``"call"`` (the last name is a method called on the object
    before it), ``"count"`` (the rows of a to-many relation counted, or asked whether
    there are any: ``.count()``, ``.exists()``) or ``"rows"`` (the rows of a to-many
    relation, through ``.all()`` or iteration).
    """

    path: Path
    how: str = "value"
    #: What, provided on the rows, makes the code skip this read: paths from the subject
    #: of an attribute (``api_pending_changes``, a ``to_attr`` or an annotation) or a
    #: relation whose loading the code tests first (see :meth:`_Reader.guard`).
    unless: frozenset[Path] = frozenset()


@dataclass(frozen=True)
class Nested:
    """A serializer class built inside the code over the rows at ``path``."""

    path: Path
    serializer: type
    #: What spares it, as for :attr:`Access.unless`.
    unless: frozenset[Path] = frozenset()
    #: Built with the context of the code building it (``context=self.context``).
    same_context: bool = False


@dataclass
class Reading:
    """What one function reads from its subject."""

    accesses: list[Access] = field(default_factory=list)
    nested: list[Nested] = field(default_factory=list)
    #: Accesses whose query a prefetch cannot serve: ``(path, method, its arguments'
    #: source)``.
    defeated: list[tuple[Path, str, str]] = field(default_factory=list)
    #: Chains handed to code the reader does not follow: ``(path, callee)``; harmless
    #: where the chain ends on a column's value.
    handed: list[tuple[Path, str]] = field(default_factory=list)
    #: Whether the parameter holding the object is bound to something else.
    rebound: bool = False
    #: Where the code reads what is loaded of an object: ``(path of the object, the
    #: cache read, the relation looked up or None when not named)``.
    loading_state: list[tuple[Path, str, str | None]] = field(default_factory=list)


_cache: dict[tuple[Any, int], Reading | None] = {}


def read_function(function: Any, subject: int) -> Reading | None:
    """What ``function`` reads from its positional parameter number ``subject``.

    ``None`` when its source cannot be read (a builtin, code made at run time).
    """
    function = inspect.unwrap(getattr(function, "__func__", function))
    key = (function, subject)
    if key not in _cache:
        _cache[key] = _read(function, subject)
    return _cache[key]


def function_node(function: Any) -> ast.FunctionDef | ast.AsyncFunctionDef | None:
    """The syntax tree of ``function``'s definition; ``None`` when its source cannot be
    read or is not one ``def`` (a lambda, a builtin, code made at run time)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError, SyntaxError, IndentationError):
        return None
    node = tree.body[0] if tree.body else None
    return node if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) else None


#: What a serializer's own ``to_representation`` may read of ``self`` and still build
#: its answer without the serializer's fields.
_PLAIN_SELF = frozenset({"context", "instance", "parent"})


def renders_alone(function: Any) -> bool:
    """Whether ``function``, a serializer's own ``to_representation``, builds its answer
    without rendering the serializer's fields over the object it is given (Label
    Studio's filter groups): it reads no ``fields`` and nothing of ``self`` but its
    context, instance and parent, and calls ``super()`` only to render another object
    (``super().to_representation(line)``, Oscar's basket lines rendering the line their
    basket holds). Code that cannot be read is taken to use them."""
    node = function_node(inspect.unwrap(function))
    if node is None or not node.args.args:
        return False
    me = node.args.args[0].arg
    given = node.args.args[1].arg if len(node.args.args) > 1 else None
    others = _super_renders_other(node, given)
    for each in ast.walk(node):
        if _is_super(each) and id(each) not in others:
            return False
        if isinstance(each, ast.Attribute) and each.attr in ("fields", "_readable_fields"):
            return False
        if not isinstance(each, ast.Name) or each.id != me or id(each) in others:
            continue
        if not _plain_use(node, each):
            return False
    return True


def _super_renders_other(node: ast.AST, given: str | None) -> set[int]:
    """The ``super(...)`` calls of ``node``, and the names in them, that only render
    another object than the one given (``super().to_representation(line)``)."""
    found: set[int] = set()
    for each in ast.walk(node):
        if not (isinstance(each, ast.Call) and isinstance(each.func, ast.Attribute)):
            continue
        receiver = each.func.value
        if each.func.attr != "to_representation" or not _is_super(receiver):
            continue
        rendered = each.args[0] if len(each.args) == 1 and not each.keywords else None
        if rendered is None or given is None:
            continue
        if any(isinstance(part, ast.Name) and part.id == given for part in ast.walk(rendered)):
            continue  # the object given, or something read from it
        found.add(id(receiver))
        found.update(id(part) for part in ast.walk(receiver) if isinstance(part, ast.Name))
    return found


def _plain_use(root: ast.AST, name: ast.Name) -> bool:
    """Whether ``name`` (``self``) is read only for one of :data:`_PLAIN_SELF`."""
    for each in ast.walk(root):
        if isinstance(each, ast.Attribute) and each.value is name:
            return each.attr in _PLAIN_SELF
    return False


def _class_name(function: Any) -> str | None:
    """The name of the class whose body defines ``function``, if one does."""
    *outer, _ = str(getattr(function, "__qualname__", "")).split(".")
    return outer[-1] if outer and outer[-1] != "<locals>" else None


class _Mangler(ast.NodeTransformer):
    """Private names as Python mangles them in a class body: ``self.__address`` in
    ``Mailbox`` reads ``_Mailbox__address`` (Modoboa's mailboxes)."""

    def __init__(self, class_name: str | None) -> None:
        self.prefix = f"_{class_name.lstrip('_')}" if class_name and class_name.strip("_") else ""

    def visit_Attribute(self, node: ast.Attribute) -> ast.AST:
        if self.prefix and node.attr.startswith("__") and not node.attr.endswith("__"):
            node.attr = f"{self.prefix}{node.attr}"
        self.generic_visit(node)
        return node


def _text(node: ast.AST) -> str | None:
    """The string a constant node holds, or ``None``."""
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _read(function: Any, subject: int) -> Reading | None:
    node = function_node(function)
    if node is None:
        return None
    _Mangler(_class_name(function)).visit(node)
    parameters = [*node.args.posonlyargs, *node.args.args]
    if len(parameters) <= subject:
        return None
    namespace = getattr(function, "__globals__", {})
    # A method field's or a field's own code: the first parameter holds the context.
    owner = parameters[0].arg if subject > 0 else None
    reader = _Reader(parameters[subject].arg, namespace.get, owner)
    reader.block(node.body)
    return reader.reading


def _arguments_source(node: ast.Call) -> str:
    """A call's arguments as written (``enabled=True``), for a hint to copy."""
    parts = [ast.unparse(argument) for argument in node.args]
    parts += [
        f"{keyword.arg}={ast.unparse(keyword.value)}"
        if keyword.arg
        else f"**{ast.unparse(keyword.value)}"
        for keyword in node.keywords
    ]
    return ", ".join(parts)


def _manager_of_all(node: ast.AST) -> ast.AST | None:
    """``x`` when ``node`` is ``x.all()``."""
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "all"
        and not node.args
        and not node.keywords
    ):
        return node.func.value
    return None


def _rows_of(path: Path) -> Path:
    return path if path[-1:] == (ROWS,) else (*path, ROWS)


def _exits(statements: Sequence[ast.AST]) -> bool:
    """Whether a block always leaves the function (ends on ``return`` or ``raise``)."""
    return bool(statements) and isinstance(statements[-1], (ast.Return, ast.Raise))


def _is_super(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"
    )


class _Reader(ast.NodeVisitor):
    """Walks one function body, following names bound to chains from the subject."""

    def __init__(
        self, subject: str, lookup: Callable[[str], Any], owner: str | None = None
    ) -> None:
        self.subject = subject
        #: The parameter holding the serializer or field whose ``context`` tests are
        #: conditions (:mod:`drf_autoprefetch.contextual`); ``None``: none is.
        self.owner = owner
        self.aliases: dict[str, Path] = {subject: ()}
        self.lookup = lookup
        self.reading = Reading()
        #: The guards the code being read sits behind (see :meth:`guard`).
        self.unless: frozenset[Path] = frozenset()

    # ---------------------------------------------------------------- chains

    def chain(self, node: ast.AST) -> Path | None:
        """The subject path an expression reads (``obj.a.b``, ``getattr(obj, "a")``)."""
        names: list[str] = []
        while isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        base: Path | None = None
        if isinstance(node, ast.Name):
            base = self.aliases.get(node.id)
        elif _manager_of_all(node) is not None:  # obj.items.all().order_by(): rows, a query
            inner = self.chain(_manager_of_all(node))  # type: ignore[arg-type]
            base = None if inner is None else _rows_of(inner)
        elif isinstance(node, ast.Call):
            base = self._getattr(node)
        if base is None:
            return None
        return base + tuple(reversed(names))

    def _getattr(self, node: ast.Call) -> Path | None:
        func = node.func
        if not (isinstance(func, ast.Name) and func.id == "getattr" and len(node.args) >= 2):
            return None
        name = node.args[1]
        base = self.chain(node.args[0])
        if base is None or not isinstance(name, ast.Constant) or not isinstance(name.value, str):
            return None
        return (*base, name.value)

    def bind(self, target: ast.AST, path: Path | None) -> None:
        """Bind a name to a chain from the subject (or unbind it)."""
        if not isinstance(target, ast.Name):
            return
        if target.id == self.subject and path is None:
            self.reading.rebound = True
        if path is None:
            self.aliases.pop(target.id, None)
        else:
            self.aliases[target.id] = path

    def record(self, path: Path, how: str = "value") -> None:
        if self._loading_state(path, None):
            return
        if path or how == "text":  # str(obj): the subject's own __str__
            self.reading.accesses.append(Access(path, how, self.unless))

    def _loading_state(self, path: Path | None, name: str | None) -> bool:
        """Record a read of an object's loading state at ``path`` (looking up the
        relation ``name``, when known); whether ``path`` is one."""
        if path is None:
            return False
        for index, part in enumerate(path):
            if part == PREFETCH_CACHE or (
                part == FIELDS_CACHE and path[index - 1 : index] == ("_state",)
            ):
                owner = path[: index - 1] if part == FIELDS_CACHE else path[:index]
                self.reading.loading_state.append((owner, part, name))
                return True
        return False

    def _named(self, node: ast.AST, key: ast.AST) -> bool:
        """``key in node`` (or ``node[key]``, ``node.get(key)``) where ``node`` is a
        loading-state cache and ``key`` a constant: recorded with its relation."""
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return False
        path = self.chain(node)
        if not path or path[-1] not in (PREFETCH_CACHE, FIELDS_CACHE):
            return False
        return self._loading_state(path, key.value)

    # ---------------------------------------------------------------- guards

    def guard(self, test: ast.AST) -> tuple[Path, bool] | None:
        """What ``test`` asks of the subject's rows, and whether it is true when that is
        provided: whether they carry an attribute a view may set (``hasattr(obj, "n")``,
        ``"n" in obj.__dict__``) or whether a relation is loaded
        (``Model.x.is_cached(obj)``, ``"x" in obj._prefetched_objects_cache``, the
        path then holding :data:`LOADED` before the relation). Either is true for every
        row of a queryset providing it; a value's truth (``getattr(obj, "n", None)``) is
        not, and is no guard. The code on the other side reads what the rows lack: its
        reads are planned only for rows that do not provide it."""
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            found = self.guard(test.operand)
            return None if found is None else (found[0], not found[1])
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            return self._compared_guard(test)
        if isinstance(test, ast.Call):
            return self._called_guard(test)
        return None

    def _compared_guard(self, test: ast.Compare) -> tuple[Path, bool] | None:
        operator, right, key = test.ops[0], test.comparators[0], test.left
        if not isinstance(operator, (ast.In, ast.NotIn)):
            return None
        if not (isinstance(key, ast.Constant) and isinstance(key.value, str)):
            return None
        path = self.chain(right)
        if not path:
            return None
        if path[-1] == "__dict__":
            owner: Path = path[:-1]
        elif path[-1] == PREFETCH_CACHE:
            owner = (*path[:-1], LOADED)
        elif path[-2:] == ("_state", FIELDS_CACHE):
            owner = (*path[:-2], LOADED)
        else:
            return None
        return (*owner, key.value), isinstance(operator, ast.In)

    def _called_guard(self, call: ast.Call) -> tuple[Path, bool] | None:
        func = call.func
        if isinstance(func, ast.Name) and func.id == "hasattr" and len(call.args) == 2:
            name = call.args[1]
            owner = self.chain(call.args[0])
            if owner is None or not isinstance(name, ast.Constant):
                return None
            if not isinstance(name.value, str) or name.value == PREFETCH_CACHE:
                return None
            return (*owner, name.value), True
        if (
            isinstance(func, ast.Attribute)
            and func.attr == "is_cached"
            and isinstance(func.value, ast.Attribute)
            and len(call.args) == 1
        ):
            owner = self.chain(call.args[0])
            return None if owner is None else ((*owner, LOADED, func.value.attr), True)
        return None

    def context_guard(self, test: ast.AST) -> tuple[Path, Path] | None:
        """What spares the code ``test`` lets run, and what spares the code run where it
        is false, for a test of the context alone (``self.context.get("k")``,
        ``self.context["k"]``, ``"k" in self.context``, negated or not): conditions of
        :mod:`drf_autoprefetch.contextual`, each as a path of one name."""
        negated = False
        while isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            negated = not negated
            test = test.operand
        found = self._context_test(test)
        if found is None:
            return None
        key, kind, default, inverted = found
        runs_when = negated == inverted  # the test's outcome that runs the first branch
        return (
            (contextual.condition(key, kind, default, not runs_when),),
            (contextual.condition(key, kind, default, runs_when),),
        )

    def _context_test(self, test: ast.AST) -> tuple[str, str, bool, bool] | None:
        """``(key, kind, truth of a missing key, inverted)`` of a test of the context."""
        if isinstance(test, ast.Compare) and len(test.ops) == 1:
            operator, key = test.ops[0], test.left
            if isinstance(operator, (ast.In, ast.NotIn)) and self._context(test.comparators[0]):
                name = _text(key)
                return (
                    None
                    if name is None
                    else (name, contextual.PRESENCE, False, isinstance(operator, ast.NotIn))
                )
            return None
        if isinstance(test, ast.Subscript) and self._context(test.value):
            name = _text(test.slice)
            return None if name is None else (name, contextual.TRUTH, False, False)
        if not (isinstance(test, ast.Call) and isinstance(test.func, ast.Attribute)):
            return None
        arguments = test.args
        if test.func.attr != "get" or test.keywords or not 1 <= len(arguments) <= 2:
            return None
        if not self._context(test.func.value):
            return None
        name = _text(arguments[0])
        default = arguments[1] if len(arguments) == 2 else ast.Constant(None)
        if name is None or not isinstance(default, ast.Constant):
            return None
        return name, contextual.TRUTH, bool(default.value), False

    def _context(self, node: ast.AST) -> bool:
        """Whether ``node`` is ``<owner>.context``."""
        return (
            self.owner is not None
            and isinstance(node, ast.Attribute)
            and node.attr == "context"
            and isinstance(node.value, ast.Name)
            and node.value.id == self.owner
        )

    def _behind(self, condition: Path | None, nodes: Sequence[ast.AST]) -> None:
        """Visit ``nodes``, run only where the rows do not provide ``condition``."""
        if condition is None:
            for node in nodes:
                self.visit(node)
            return
        outer = self.unless
        self.unless = outer | {condition}
        try:
            self.block(nodes)
        finally:
            self.unless = outer

    def block(self, statements: Sequence[ast.AST]) -> None:
        """Visit a block of statements; after ``if <guard>: ... return``, the rest of the
        block is the code for rows that lack what the guard asks about."""
        for index, statement in enumerate(statements):
            self.visit(statement)
            if isinstance(statement, ast.If) and not statement.orelse and _exits(statement.body):
                tested = self.context_guard(statement.test)
                if tested is not None:  # the rest runs where the test is false
                    self._behind(tested[1], statements[index + 1 :])
                    return
                found = self.guard(statement.test)
                if found is not None and found[1]:
                    self._behind(found[0], statements[index + 1 :])
                    return

    def visit_If(self, node: ast.If) -> None:
        self._branches(node.test, node.body, node.orelse)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._branches(node.test, [node.body], [node.orelse])

    def _branches(self, test: ast.AST, body: Sequence[ast.AST], orelse: Sequence[ast.AST]) -> None:
        """An ``if`` (or a conditional expression): a branch behind a guard reads only
        for rows that lack what it asks about."""
        self.visit(test)
        tested = self.context_guard(test)
        if tested is not None:
            self._behind(tested[0], body)
            self._behind(tested[1], orelse)
            return
        found = self.guard(test)
        if found is None:
            self.block(body)
            self.block(orelse)
            return
        condition, provided_when_true = found
        self._behind(None if provided_when_true else condition, body)
        self._behind(condition if provided_when_true else None, orelse)

    def visit_Compare(self, node: ast.Compare) -> None:
        """``"items" in obj._prefetched_objects_cache``: the relation it asks about."""
        self.visit(node.left)
        left = node.left
        for operator, right in zip(node.ops, node.comparators, strict=True):
            if not (isinstance(operator, (ast.In, ast.NotIn)) and self._named(right, left)):
                self.visit(right)
            left = right

    def visit_Subscript(self, node: ast.Subscript) -> None:
        if not self._named(node.value, node.slice):
            self.generic_visit(node)

    # ---------------------------------------------------------------- nodes

    def visit_Attribute(self, node: ast.Attribute) -> None:
        path = self.chain(node)
        if path is None:
            self.generic_visit(node)
        else:
            self.record(path)

    def visit_Name(self, node: ast.Name) -> None:
        """A bare name: its uses are judged where they matter (calls), but a name bound
        to a relation's rows used as such (``len(rows)``, ``return rows``) reads them."""
        path = self.aliases.get(node.id)
        if path is not None and path[-1:] == (ROWS,):
            self.record(path, "rows")

    def visit_FormattedValue(self, node: ast.FormattedValue) -> None:
        path = self.chain(node.value)
        if path is None:
            self.generic_visit(node)
        else:
            self.record(path, "text")

    def visit_Assign(self, node: ast.Assign) -> None:
        value = node.value
        path = self.chain(value)
        if path is not None and _manager_of_all(value) is not None:
            # rows = obj.items.all(): read where the name is used as rows, not when a
            # query method on it runs a query of its own (rows.values_list(...)).
            for target in node.targets:
                self.bind(target, path)
            return
        self.visit(value)
        if self._narrowed(value, node.targets):
            return
        for target in node.targets:
            self.bind(target, path)

    def _narrowed(self, value: ast.AST, targets: list[ast.expr]) -> bool:
        """``rows = rows.filter(...)``: a query of its own on some path of the code; the
        name keeps standing for the relation's rows on the others."""
        if not (isinstance(value, ast.Call) and isinstance(value.func, ast.Attribute)):
            return False
        receiver = value.func.value
        return (
            value.func.attr in DEFEATING
            and isinstance(receiver, ast.Name)
            and len(targets) == 1
            and isinstance(targets[0], ast.Name)
            and targets[0].id == receiver.id
            and self.aliases.get(receiver.id, ())[-1:] == (ROWS,)
        )

    def visit_For(self, node: ast.For) -> None:
        self._bind_loop(node.target, node.iter)
        for statement in [*node.body, *node.orelse]:
            self.visit(statement)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        self._bind_loop(node.target, node.iter)
        for condition in node.ifs:
            self.visit(condition)

    def _visit_generator(self, node: Any) -> None:
        for generator in node.generators:
            self.visit(generator)
        for part in ("elt", "key", "value"):
            child = getattr(node, part, None)
            if child is not None:
                self.visit(child)

    visit_ListComp = visit_SetComp = visit_GeneratorExp = visit_DictComp = _visit_generator

    def _bind_loop(self, target: ast.AST, iterable: ast.AST) -> None:
        self.visit(iterable)
        path = self.chain(iterable)
        if path is not None:
            path = _rows_of(path)
            self.record(path, "rows")
        self.bind(target, path)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        """``a.all() | b.all()`` (or ``&``) combines querysets into a new query."""
        if not isinstance(node.op, (ast.BitOr, ast.BitAnd)):
            self.generic_visit(node)
            return
        for operand in (node.left, node.right):
            path = self._queryset(operand)
            if path is None:
                self.visit(operand)
            else:
                operator = "|" if isinstance(node.op, ast.BitOr) else "&"
                self.reading.defeated.append((path, operator, ""))

    def _queryset(self, node: ast.AST) -> Path | None:
        """The path of the rows ``obj.items.all()`` (or a name bound to them) gives."""
        path = self.chain(node)
        return path if path is not None and path[-1:] == (ROWS,) else None

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            self._method_call(node, func)
        elif isinstance(func, ast.Name):
            self._function_call(node, func.id)
        else:  # a callee found at run time: getattr(manager, name)(obj), a lambda's call
            self.visit(func)
            self._arguments(node, f"{ast.unparse(func)}()")

    def _method_call(self, node: ast.Call, func: ast.Attribute) -> None:
        if self._is_cached(node, func):
            return
        if _is_super(func.value):  # super().to_representation(obj): the declared fields
            for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                self.visit(argument)
            return
        path = self.chain(func.value)
        if path is None:
            self.visit(func.value)
            self._arguments(node, f"{ast.unparse(func)}()")
            return
        method = func.attr
        if method in _CACHE_LOOKUPS and node.args and self._named(func.value, node.args[0]):
            self._arguments(node, f"{ast.unparse(func)}()", skip=1)
            return
        if method in SERVED and not node.args:
            self.record(path, "rows" if method == "all" else "count")
        elif method in DEFEATING:
            self.reading.defeated.append((path, method, _arguments_source(node)))
        else:
            self.record((*path, method), "call")
        self._arguments(node, f"{ast.unparse(func)}()")

    def _is_cached(self, node: ast.Call, func: ast.Attribute) -> bool:
        """``Model.relation.is_cached(obj)``: whether that relation of ``obj`` is loaded."""
        descriptor = func.value
        if func.attr != "is_cached" or len(node.args) != 1 or node.keywords:
            return False
        if not isinstance(descriptor, ast.Attribute):
            return False
        path = self.chain(node.args[0])
        if path is None:
            return False
        self.reading.loading_state.append((path, FIELDS_CACHE, descriptor.attr))
        return True

    def _getattr_call(self, node: ast.Call) -> bool:
        """``getattr(obj, "name", default)``: the chain read, then its default. A name
        computed at run time reads what the planner cannot tell (recorded as handed)."""
        path = self._getattr(node)
        if path is not None:
            self.record(path)
            for default in node.args[2:]:
                self.visit(default)
            return True
        base = self.chain(node.args[0]) if len(node.args) >= 2 else None
        if base is not None and not isinstance(node.args[1], ast.Constant):
            self.reading.handed.append((base, "getattr() with a name computed at run time"))
        return False

    def _hasattr_state(self, node: ast.Call) -> bool:
        """``hasattr(obj, "_prefetched_objects_cache")``: whether anything is prefetched."""
        if len(node.args) != 2 or not isinstance(node.args[1], ast.Constant):
            return False
        owner = self.chain(node.args[0])
        if owner is None:
            return False
        return self._loading_state((*owner, str(node.args[1].value)), None)

    def _function_call(self, node: ast.Call, name: str) -> None:
        if name == "getattr" and self._getattr_call(node):
            return
        if name in _TEXT_BUILTINS and node.args:
            path = self.chain(node.args[0])
            if path is not None:
                self.record(path, "text")
                self._arguments(node, f"{name}()", skip=1)
                return
        if name == "hasattr" and self._hasattr_state(node):
            return
        if name in _PLAIN_BUILTINS or name == "getattr":
            for argument in [*node.args, *(keyword.value for keyword in node.keywords)]:
                self.visit(argument)
            return
        if self._nested_serializer(node, name):
            return
        self._arguments(node, f"{name}()")

    def _nested_serializer(self, node: ast.Call, name: str) -> bool:
        """``XSerializer(obj.items.all(), many=True, ...).data``: plan X below ``items``."""
        from rest_framework.serializers import BaseSerializer

        found = self.lookup(name)
        if not (isinstance(found, type) and issubclass(found, BaseSerializer)):
            return False
        if not node.args:
            self._arguments(node, f"{name}()")
            return True
        path = self.chain(node.args[0])
        if path is None:
            self._arguments(node, f"{name}()")
            return True
        self.record(path, "rows")
        rows = tuple(name for name in path if name != ROWS)
        same = any(each.arg == "context" and self._context(each.value) for each in node.keywords)
        self.reading.nested.append(Nested(rows, found, self.unless, same))
        for keyword in node.keywords:
            self.visit(keyword.value)
        return True

    def _arguments(self, node: ast.Call, callee: str, skip: int = 0) -> None:
        """Visit a call's arguments; the subject (or an object from it) handed to code
        the reader does not follow makes the reading incomplete."""
        for argument in [*node.args[skip:], *(keyword.value for keyword in node.keywords)]:
            path = self.chain(argument)
            if path is not None:
                self.reading.handed.append((path, callee))
                if path[-1:] == (ROWS,):
                    # Rows that code may filter (a query) or read: not loaded; what they
                    # hang from is read, though (``obj.event`` of ``obj.event.orders``).
                    if path[:-2]:
                        self.record(path[:-2])
                    continue
            self.visit(argument)
