"""A safe evaluator of the selection, weight and derived-variable expressions of config files.

Expressions (docs/ntuples.md "Expressions") are parsed with :mod:`ast` into a tree whose every
node is checked against an allow-list *before* anything is evaluated, then interpreted here on
numpy arrays (and awkward arrays for per-object branches).  Config text never reaches Python's
``eval``, ``exec`` or ``compile``.  The language:

- names: branches of the tree, constants of the config, earlier derived variables;
- numbers (every number is a float64; ``True`` / ``False``);
- arithmetic ``+ - * / **`` and unary ``-``; the exponent of ``**`` must be a number literal
  with ``|p| <= MAX_EXPONENT`` (``exp`` / ``log`` for anything else), so ``10**10**10`` is
  refused at parse time;
- comparisons ``< <= > >= == !=`` (chains such as ``0 < x < 1`` too);
- logical ``and`` / ``or`` / ``not`` and, on booleans only, ``&`` / ``|`` / ``~``;
- the maths functions of :data:`FUNCTIONS` (numpy's, elementwise);
- an object index on a per-object (jagged) branch: ``lep_pt[0]`` is the leading lepton's pT.

A missing object is **NaN** for a numeric branch (every comparison with NaN is false, so a cut
on it drops the event) and **False** for a boolean branch; a training variable, spectator or
weight that is NaN after the preselection is an error of the caller (``hepml.io.ntuples``),
which names the sample, the expression and the count.  Nothing else is accepted: attribute
access, calls of other functions, keyword arguments, subscripts other than a non-negative
integer index on a branch name, lambdas, comprehensions, strings, containers, conditional
expressions, names starting with ``__``, and expressions longer than :data:`MAX_LENGTH`
characters or nested deeper than :data:`MAX_DEPTH`.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

# name -> (numpy function, number of arguments)
FUNCTIONS = {
    "abs": (np.abs, 1),
    "sqrt": (np.sqrt, 1),
    "exp": (np.exp, 1),
    "log": (np.log, 1),
    "log10": (np.log10, 1),
    "cos": (np.cos, 1),
    "sin": (np.sin, 1),
    "tan": (np.tan, 1),
    "arccos": (np.arccos, 1),
    "arcsin": (np.arcsin, 1),
    "arctan": (np.arctan, 1),
    "cosh": (np.cosh, 1),
    "sinh": (np.sinh, 1),
    "tanh": (np.tanh, 1),
    "arctan2": (np.arctan2, 2),
    "hypot": (np.hypot, 2),
    "minimum": (np.minimum, 2),
    "maximum": (np.maximum, 2),
    "where": (np.where, 3),
}
MAX_LENGTH = 1000  # characters of one expression
MAX_DEPTH = 40  # nesting of the parsed tree
MAX_EXPONENT = 64  # |p| of a literal exponent x ** p

_ARITHMETIC = {
    ast.Add: np.add,
    ast.Sub: np.subtract,
    ast.Mult: np.multiply,
    ast.Div: np.true_divide,
}
_BITWISE = {ast.BitAnd: ("&", np.logical_and), ast.BitOr: ("|", np.logical_or)}
_COMPARE = {
    ast.Lt: np.less,
    ast.LtE: np.less_equal,
    ast.Gt: np.greater,
    ast.GtE: np.greater_equal,
    ast.Eq: np.equal,
    ast.NotEq: np.not_equal,
}
# Readable names of what is refused (the first match of the node's class wins).
_REFUSED = (
    (ast.Attribute, "attribute access"),
    (ast.Lambda, "a lambda"),
    ((ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp), "a comprehension"),
    ((ast.List, ast.Tuple, ast.Set, ast.Dict), "a container literal"),
    (ast.IfExp, "a conditional expression (use where(cond, a, b))"),
    ((ast.JoinedStr, ast.FormattedValue), "a string"),
    (ast.Starred, "a starred argument"),
    (ast.NamedExpr, "an assignment expression"),
    ((ast.Await, ast.Yield, ast.YieldFrom), "await/yield"),
    (ast.Slice, "a slice"),
)


class ExpressionError(ValueError):
    """An expression is malformed, uses something outside the language, or cannot be evaluated
    on the given columns; the message names the context, the expression and the culprit."""


def _refused_name(node: ast.AST) -> str:
    for kinds, text in _REFUSED:
        if isinstance(node, kinds):
            return text
    return f"{type(node).__name__} syntax"


@dataclass(frozen=True)
class Expression:
    """One parsed, checked expression.

    text: the source as written; names: every name it reads (branches, constants, derived
    variables; function names excluded); indexed: the names it reads with an object index.
    """

    text: str
    tree: ast.expr
    names: frozenset[str]
    indexed: frozenset[str]

    def evaluate(
        self, columns: Mapping, length: int | None = None, context: str = ""
    ) -> np.ndarray:
        """The value per event: a 1-D numpy array (bool for comparisons and logic, float64
        otherwise), broadcast to ``length`` when given (``"1"`` for data weights).

        columns: name -> 1-D numpy array (flat branch or derived variable), awkward array or
        2-D numpy array (per-object branch, used with an index), or a number (constant).
        Raises ExpressionError naming ``context``, the expression and the unknown name.
        """
        missing = sorted(self.names - set(columns))
        if missing:
            raise ExpressionError(
                f"{_where(context)}expression {self.text!r}: unknown name(s) {missing}"
            )
        with np.errstate(all="ignore"):  # NaN / inf are checked by the caller where they matter
            value = _Evaluator(columns, self.text, context).visit(self.tree)
        value = np.asarray(value)
        if length is not None:
            if value.ndim == 0:
                value = np.full(length, value, dtype=value.dtype)
            elif value.shape != (length,):
                raise ExpressionError(
                    f"{_where(context)}expression {self.text!r}: {value.shape[0]} values for "
                    f"{length} events"
                )
        return value


def _where(context: str) -> str:
    return f"{context}: " if context else ""


def parse(text: str, context: str = "") -> Expression:
    """Parse and check ``text``; ExpressionError (naming ``context`` and the construct) for
    anything outside the language.  Nothing is evaluated."""
    where = f"{_where(context)}expression {text!r}"
    if not isinstance(text, str):
        raise ExpressionError(f"{where}: must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"{where[:200]}...: longer than {MAX_LENGTH} characters")
    if not text.strip():
        raise ExpressionError(f"{where}: empty")
    try:
        tree = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as error:
        raise ExpressionError(f"{where}: syntax error ({error.msg})") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(f"{where}: nested too deeply") from None
    checker = _Checker(where)
    checker.check(tree, 0)
    return Expression(text, tree, frozenset(checker.names), frozenset(checker.indexed))


class _Checker:
    """The allow-list: every node of the tree is one of the accepted forms."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.names: set[str] = set()
        self.indexed: set[str] = set()

    def fail(self, what: str) -> None:
        raise ExpressionError(f"{self.where}: {what} is not allowed")

    def check(self, node: ast.AST, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise ExpressionError(f"{self.where}: nested deeper than {MAX_DEPTH}")
        if isinstance(node, ast.Constant):
            _number(node.value, self.where)
        elif isinstance(node, ast.Name):
            self.name(node.id)
        elif isinstance(node, ast.Subscript):
            self.subscript(node)
        elif isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Pow):
                _exponent(node.right, self.where)
            elif not isinstance(node.op, tuple(_ARITHMETIC) + tuple(_BITWISE)):
                self.fail(f"operator {type(node.op).__name__}")
            self.check(node.left, depth + 1)
            self.check(node.right, depth + 1)
        elif isinstance(node, ast.UnaryOp):
            self.check(node.operand, depth + 1)
        elif isinstance(node, ast.BoolOp):
            for value in node.values:
                self.check(value, depth + 1)
        elif isinstance(node, ast.Compare):
            for op in node.ops:
                if not isinstance(op, tuple(_COMPARE)):
                    self.fail(f"comparison {type(op).__name__}")
            for value in [node.left, *node.comparators]:
                self.check(value, depth + 1)
        elif isinstance(node, ast.Call):
            self.call(node, depth)
        else:
            self.fail(_refused_name(node))

    def name(self, name: str) -> None:
        if name.startswith("__"):
            self.fail(f"the name {name!r} (names starting with '__')")
        if name in FUNCTIONS:
            self.fail(f"the function name {name!r} as a value")
        self.names.add(name)

    def subscript(self, node: ast.Subscript) -> None:
        index = node.slice
        if not isinstance(node.value, ast.Name):
            self.fail("a subscript of anything but a branch name (write e.g. lep_pt[0])")
        if not (
            isinstance(index, ast.Constant)
            and type(index.value) is int
            and 0 <= index.value <= 1000
        ):
            self.fail(
                f"the subscript [{ast.unparse(index)}] (only a non-negative integer object "
                "index, e.g. lep_pt[0])"
            )
        self.name(node.value.id)
        self.indexed.add(node.value.id)

    def call(self, node: ast.Call, depth: int) -> None:
        if not isinstance(node.func, ast.Name):
            self.fail(
                f"calling {ast.unparse(node.func)!r} (only the functions {sorted(FUNCTIONS)})"
            )
        name = node.func.id
        if name not in FUNCTIONS:
            self.fail(f"the function {name!r} (allowed: {', '.join(sorted(FUNCTIONS))})")
        if node.keywords:
            self.fail(f"keyword arguments of {name}()")
        arity = FUNCTIONS[name][1]
        if len(node.args) != arity:
            raise ExpressionError(
                f"{self.where}: {name}() takes {arity} argument(s), got {len(node.args)}"
            )
        for argument in node.args:
            self.check(argument, depth + 1)


def _number(value, where: str):
    """A number literal as numpy (bool stays bool); anything else is refused."""
    if isinstance(value, bool):
        return np.bool_(value)
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise ExpressionError(
                f"{where}: the number {str(value)[:20]}... is too large"
            ) from None
        if not np.isfinite(number):
            raise ExpressionError(f"{where}: the number {value!r} is not finite")
        return np.float64(number)
    kind = "a string" if isinstance(value, str | bytes) else f"the constant {value!r}"
    raise ExpressionError(f"{where}: {kind} is not allowed")


def _exponent(node: ast.AST, where: str) -> float:
    """The literal exponent of ``x ** p`` (``-p`` too), within +-MAX_EXPONENT."""
    sign = 1.0
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
        node = node.operand
    if not (isinstance(node, ast.Constant) and type(node.value) in (int, float)):
        raise ExpressionError(
            f"{where}: the exponent of ** must be a number literal (use exp/log otherwise)"
        )
    value = sign * float(_number(node.value, where))
    if abs(value) > MAX_EXPONENT:
        raise ExpressionError(f"{where}: the exponent {value:g} exceeds +-{MAX_EXPONENT}")
    return value


def _is_awkward(value) -> bool:
    awkward = sys.modules.get("awkward")
    return awkward is not None and isinstance(value, awkward.Array)


@dataclass(frozen=True)
class Jagged:
    """A per-object branch in numpy: the objects of every event, one after the other
    (``content``), and each event's count.  :meth:`from_awkward` converts uproot's arrays once
    per step; indexing and selecting are then plain numpy."""

    counts: np.ndarray  # (N,) objects per event
    content: np.ndarray  # (sum of counts,) the values, event after event

    @classmethod
    def from_awkward(cls, value) -> Jagged:
        import awkward as ak

        return cls(
            np.asarray(ak.to_numpy(ak.num(value, axis=1)), dtype=np.int64),
            np.asarray(ak.to_numpy(ak.flatten(value, axis=1))),
        )

    @classmethod
    def from_lists(cls, values) -> Jagged:
        """From a list of per-event sequences (tests, small inputs)."""
        counts = np.array([len(v) for v in values], dtype=np.int64)
        return cls(counts, np.asarray([x for v in values for x in v]))

    def __len__(self) -> int:
        return len(self.counts)

    def __getitem__(self, mask: np.ndarray) -> Jagged:
        """The events where the boolean ``mask`` is true."""
        return Jagged(self.counts[mask], self.content[np.repeat(mask, self.counts)])

    def at(self, index: int) -> np.ndarray:
        """The ``index``-th object of every event: NaN (float64) where an event has fewer
        objects, False for a boolean branch."""
        if self.content.dtype == np.bool_:
            out = np.zeros(len(self.counts), dtype=np.bool_)
        else:
            out = np.full(len(self.counts), np.nan)
        has = self.counts > index
        starts = np.cumsum(self.counts) - self.counts
        out[has] = self.content[starts[has] + index]
        return out


def is_per_object(value) -> bool:
    """Whether a column holds several objects per event (Jagged, jagged awkward, 2-D numpy)."""
    if isinstance(value, Jagged):
        return True
    if _is_awkward(value):
        return value.ndim > 1
    return isinstance(value, np.ndarray) and value.ndim == 2


def object_at(value, index: int) -> np.ndarray:
    """The ``index``-th object of every event of a per-object column (:meth:`Jagged.at`)."""
    if isinstance(value, Jagged):
        return value.at(index)
    if _is_awkward(value):
        return Jagged.from_awkward(value).at(index)
    array = np.asarray(value)
    if array.dtype == np.bool_:
        out = np.zeros(array.shape[0], dtype=np.bool_)
    else:
        out = np.full(array.shape[0], np.nan)
    if index < array.shape[1]:
        out[:] = array[:, index]
    return out


def _flat(value) -> np.ndarray:
    """A flat column as numpy: bool kept, every other type float64."""
    if _is_awkward(value):
        import awkward as ak

        value = ak.to_numpy(value)
    array = np.asarray(value)
    return array if array.dtype == np.bool_ else array.astype(np.float64, copy=False)


class _Evaluator:
    """Interprets a checked tree on the columns (the checker has refused everything else)."""

    def __init__(self, columns: Mapping, text: str, context: str) -> None:
        self.columns = columns
        self.where = f"{_where(context)}expression {text!r}"

    def fail(self, what: str) -> None:
        raise ExpressionError(f"{self.where}: {what}")

    def boolean(self, value, operator: str):
        value = np.asarray(value)
        if value.dtype != np.bool_:
            self.fail(
                f"the operand of {operator!r} is not boolean ({value.dtype}): use a comparison"
            )
        return value

    def visit(self, node: ast.AST):
        if isinstance(node, ast.Constant):
            return _number(node.value, self.where)
        if isinstance(node, ast.Name):
            value = self.columns[node.id]
            if is_per_object(value):
                self.fail(
                    f"{node.id!r} holds several objects per event: index it, e.g. {node.id}[0]"
                )
            return _flat(value)
        if isinstance(node, ast.Subscript):
            value = self.columns[node.value.id]
            if not is_per_object(value):
                self.fail(f"{node.value.id!r} holds one value per event: it has no object index")
            return object_at(value, node.slice.value)
        if isinstance(node, ast.BinOp):
            return self.binary(node)
        if isinstance(node, ast.UnaryOp):
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return np.logical_not(self.boolean(operand, "not"))
            if isinstance(node.op, ast.Invert):
                return np.logical_not(self.boolean(operand, "~"))
            if isinstance(node.op, ast.USub):
                return np.negative(self.numeric(operand, "-"))
            return self.numeric(operand, "+")
        if isinstance(node, ast.BoolOp):
            name, function = (
                ("and", np.logical_and) if isinstance(node.op, ast.And) else ("or", np.logical_or)
            )
            values = [self.boolean(self.visit(value), name) for value in node.values]
            result = values[0]
            for value in values[1:]:
                result = function(result, value)
            return result
        if isinstance(node, ast.Compare):
            left = self.visit(node.left)
            result = None
            for op, right_node in zip(node.ops, node.comparators, strict=True):
                right = self.visit(right_node)
                step = _COMPARE[type(op)](left, right)
                result = step if result is None else np.logical_and(result, step)
                left = right
            return result
        if isinstance(node, ast.Call):
            function = FUNCTIONS[node.func.id][0]
            return function(*[self.visit(argument) for argument in node.args])
        raise AssertionError(f"unchecked node {type(node).__name__}")  # pragma: no cover

    def numeric(self, value, operator: str):
        value = np.asarray(value)
        if value.dtype == np.bool_:
            self.fail(f"the operand of {operator!r} is boolean: arithmetic needs numbers")
        return value

    def binary(self, node: ast.BinOp):
        left, right = self.visit(node.left), self.visit(node.right)
        if type(node.op) in _BITWISE:
            symbol, function = _BITWISE[type(node.op)]
            return function(self.boolean(left, symbol), self.boolean(right, symbol))
        symbol = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
        left = self.numeric(left, symbol[type(node.op)])
        right = self.numeric(right, symbol[type(node.op)])
        if isinstance(node.op, ast.Pow):
            return np.power(left, right)
        return _ARITHMETIC[type(node.op)](left, right)
