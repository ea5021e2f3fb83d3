"""The expression language of config files (hepml.expressions, docs/ntuples.md "Expressions"):
what it computes, what a missing object gives, and everything it refuses before evaluating."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import numpy as np
import pytest
from hepml.expressions import (
    FUNCTIONS,
    MAX_EXPONENT,
    ExpressionError,
    Jagged,
    is_per_object,
    object_at,
    parse,
)

MODULE = Path(__file__).resolve().parents[1] / "scripts" / "hepml" / "expressions.py"


@pytest.fixture()
def columns():
    return {
        "met": np.array([10.0, 20.0, 30.0, 40.0]),
        "phi": np.array([0.1, -3.0, 2.0, 0.0]),
        "trig": np.array([True, False, True, True]),
        "n": np.array([2, 0, 1, 3], dtype=np.uint32),
        "lep_pt": Jagged.from_lists([[50.0, 20.0], [], [30.0], [5.0, 4.0, 3.0]]),
        "lep_tight": Jagged.from_lists([[True, False], [], [False], [True, True, True]]),
        "lumi": 10.0,
    }


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("met * 2 + 1", lambda c: c["met"] * 2 + 1),
        ("-met / 4 - 1", lambda c: -c["met"] / 4 - 1),
        ("(met ** 2) ** 0.5", lambda c: c["met"]),
        ("met ** -1", lambda c: 1 / c["met"]),
        ("sqrt(met) * lumi", lambda c: np.sqrt(c["met"]) * 10.0),
        ("arccos(cos(phi - 3))", lambda c: np.abs(np.angle(np.exp(1j * (c["phi"] - 3))))),
        ("hypot(met, 1) - sqrt(met**2 + 1)", lambda c: np.zeros(4)),
        ("where(trig, met, -met)", lambda c: np.where(c["trig"], c["met"], -c["met"])),
        ("maximum(minimum(met, 25), 15)", lambda c: np.clip(c["met"], 15, 25)),
        (
            "arctan2(phi, 1) + log(exp(1)) + abs(-phi)",
            lambda c: np.arctan2(c["phi"], 1) + 1 + np.abs(c["phi"]),
        ),
    ],
)
def test_arithmetic_and_functions_follow_numpy(columns, text, expected):
    np.testing.assert_allclose(parse(text).evaluate(columns), expected(columns), atol=1e-12)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("met > 15 and trig", [False, False, True, True]),
        ("met > 15 or not trig", [False, True, True, True]),
        ("(met > 15) & ~trig | (n == 0)", [False, True, False, False]),
        ("15 < met <= 30", [False, True, True, False]),
        ("n != 1", [True, True, False, True]),
        ("True and trig", [True, False, True, True]),
    ],
)
def test_comparisons_and_logic(columns, text, expected):
    result = parse(text).evaluate(columns)
    assert result.dtype == np.bool_
    assert result.tolist() == expected


def test_an_object_index_picks_that_object_and_a_missing_one_is_nan(columns):
    leading = parse("lep_pt[0]").evaluate(columns)
    np.testing.assert_array_equal(leading, [50.0, np.nan, 30.0, 5.0])
    np.testing.assert_array_equal(parse("lep_pt[2]").evaluate(columns), [np.nan] * 3 + [3.0])
    # every comparison with a missing object is false, so a cut on it drops the event
    assert parse("lep_pt[1] > 0").evaluate(columns).tolist() == [True, False, False, True]
    assert parse("lep_pt[1] <= 0").evaluate(columns).tolist() == [False, False, False, False]


def test_a_missing_boolean_object_is_false(columns):
    assert parse("lep_tight[1]").evaluate(columns).tolist() == [False, False, False, True]
    assert parse("not lep_tight[0]").evaluate(columns).tolist() == [False, True, True, False]


def test_per_object_columns_from_awkward_and_two_dimensional_numpy():
    import awkward as ak

    jagged = ak.Array([[1.0, 2.0], [], [3.0]])
    padded = np.array([[1.0, 2.0], [np.nan, np.nan], [3.0, 4.0]])
    assert is_per_object(jagged) and is_per_object(padded)
    assert not is_per_object(np.zeros(3)) and not is_per_object(ak.Array([1.0, 2.0]))
    np.testing.assert_array_equal(object_at(jagged, 1), [2.0, np.nan, np.nan])
    np.testing.assert_array_equal(object_at(padded, 1), [2.0, np.nan, 4.0])
    np.testing.assert_array_equal(object_at(padded, 5), [np.nan] * 3)
    selected = Jagged.from_awkward(jagged)[np.array([True, False, True])]
    np.testing.assert_array_equal(selected.at(0), [1.0, 3.0])


def test_constants_broadcast_to_the_number_of_events(columns):
    assert parse("1").evaluate(columns, length=4).tolist() == [1.0] * 4
    assert parse("lumi * 2").evaluate(columns, length=4).tolist() == [20.0] * 4


def test_names_are_collected_and_unknown_names_are_named(columns):
    expression = parse("sqrt(lep_pt[0] * met) + lumi")
    assert expression.names == {"lep_pt", "met", "lumi"}
    assert expression.indexed == {"lep_pt"}
    with pytest.raises(ExpressionError) as error:
        parse("met_et * 2").evaluate(columns, context="sample ttbar, variable x")
    message = str(error.value)
    assert "sample ttbar, variable x" in message
    assert "'met_et * 2'" in message
    assert "['met_et']" in message


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("lep_pt", "holds several objects per event: index it, e.g. lep_pt[0]"),
        ("met[0]", "'met' holds one value per event"),
        ("met & trig", "operand of '&' is not boolean"),
        ("met and trig", "operand of 'and' is not boolean"),
        ("not met", "operand of 'not' is not boolean"),
        ("trig * 2", "arithmetic needs numbers"),
    ],
)
def test_type_errors_at_evaluation_name_the_expression(columns, text, fragment):
    with pytest.raises(ExpressionError) as error:
        parse(text).evaluate(columns, context="sample zee")
    assert fragment in str(error.value)
    assert str(error.value).startswith(f"sample zee: expression {text!r}")


HOSTILE = [
    ("__import__('os').system('true')", "calling \"__import__('os').system\""),
    ("__import__('os')", "the function '__import__'"),
    ("().__class__", "attribute access"),
    ("().__class__.__bases__[0].__subclasses__()", "not allowed"),
    ("lep_pt.__class__", "attribute access"),
    ("met.real.imag", "attribute access"),
    ("__builtins__", "names starting with '__'"),
    ("10 ** 10 ** 10", "exponent of ** must be a number literal"),
    ("9 ** 9 ** 9", "exponent of ** must be a number literal"),
    ("2 ** 1000", f"exceeds +-{MAX_EXPONENT}"),
    ("met ** met", "exponent of ** must be a number literal"),
    ("1" * 400, "too large"),
    ("1e999", "not finite"),
    ("'a' * 10", "a string"),
    ("f'{met}'", "a string"),
    ("b'x'", "a string"),
    ("None", "the constant None"),
    ("...", "the constant Ellipsis"),
    ("1j", "the constant 1j"),
    ("lambda: 0", "a lambda"),
    ("[x for x in met]", "a comprehension"),
    ("(x for x in met)", "a comprehension"),
    ("[1, 2]", "a container literal"),
    ("{}", "a container literal"),
    ("met if trig else 0", "a conditional expression"),
    ("open('f')", "the function 'open'"),
    ("eval('1')", "the function 'eval'"),
    ("getattr(met, 'x')", "the function 'getattr'"),
    ("sqrt", "the function name 'sqrt' as a value"),
    ("abs(x=1)", "keyword arguments"),
    ("sqrt(met, 2)", "takes 1 argument(s)"),
    ("(lambda: 1)()", "calling"),
    ("lep_pt[met]", "only a non-negative integer object index"),
    ("lep_pt[-1]", "only a non-negative integer object index"),
    ("lep_pt[1.5]", "only a non-negative integer object index"),
    ("lep_pt[True]", "only a non-negative integer object index"),
    ("lep_pt[0:2]", "only a non-negative integer object index"),
    ("lep_pt[0][0]", "a subscript of anything but a branch name"),
    ("met % 2", "operator Mod"),
    ("met // 2", "operator FloorDiv"),
    ("met << 1", "operator LShift"),
    ("met ^ trig", "operator BitXor"),
    ("met @ met", "operator MatMult"),
    ("met is None", "comparison Is"),
    ("met in met", "comparison In"),
    ("(x := 1)", "an assignment expression"),
    ("abs(*met)", "a starred argument"),
    ("met = 1", "syntax error"),
    ("import os", "syntax error"),
    ("", "empty"),
    ("-" * 200 + "1", "nested deeper"),
    ("(" * 300 + "1" + ")" * 300, "nested"),
    ("+".join(["met"] * 300), "longer than"),
]


@pytest.mark.parametrize(("text", "fragment"), HOSTILE)
def test_hostile_and_disallowed_inputs_are_refused_when_parsed(text, fragment):
    """Refused by parse(), before anything is evaluated, with the construct named."""
    with pytest.raises(ExpressionError) as error:
        parse(text, context="sample ztautau, weight")
    assert fragment in str(error.value)
    assert "sample ztautau, weight" in str(error.value)


def test_the_language_accepts_what_the_hostile_list_is_near():
    """Negative control for the list above: the allowed neighbours of refused forms parse."""
    for text in ["met ** 2", "met ** -0.5", "lep_pt[0]", "lep_pt[3] > 1", "abs(-met)", "1e10"]:
        parse(text)
    assert set(FUNCTIONS) >= {"abs", "sqrt", "cos", "arctan2", "hypot", "where"}


def calls_of_eval(source: str) -> list[str]:
    """Calls of eval / exec / compile / __import__ in a module's source."""
    forbidden = {"eval", "exec", "compile", "__import__"}
    return [
        ast.unparse(node)
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name | ast.Attribute)
        and (node.func.id if isinstance(node.func, ast.Name) else node.func.attr) in forbidden
    ]


def test_the_evaluator_never_calls_python_eval():
    assert calls_of_eval(MODULE.read_text()) == []
    assert calls_of_eval("x = eval(text)\ny = builtins.compile(t, 'f', 'eval')\n") == [
        "eval(text)",
        "builtins.compile(t, 'f', 'eval')",
    ]


def test_arithmetic_on_missing_objects_stays_nan_without_warnings(columns):
    with np.errstate(all="raise"):
        value = parse("sqrt(lep_pt[1] - 100) / 0").evaluate(columns)
    assert np.isnan(value).all()
    assert math.isinf(parse("met / 0").evaluate(columns)[0])
