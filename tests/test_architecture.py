"""The library's layers (docs/architecture.md "Layers"): imports run one way, and building the
DAG imports only light modules.

rules -> scripts -> steps -> domain -> io, with a base of settings and geometry everyone may
use. The direction is read from the source (every ``import`` statement, function-local ones
included: a lazy import is still a dependency), so the checks run without importing the library.
Each check is also run on a synthetic module that breaks it, so a check that cannot fail is
caught too.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LIBRARY = REPO / "scripts" / "hepml"

# Modules every layer may import: plain settings, the detector geometry, the config check, logs,
# the expression language of config files (hepml.expressions: numpy only).
BASE = {"hepml.settings", "hepml.geometry", "hepml.configcheck", "hepml.logs", "hepml.expressions"}
# The I/O layer: the only modules that know file formats (Feather, HDF5, the EFP tables, ROOT):
# the package hepml.io, one module per published format and the shared pieces.
IO = "hepml.io"
LAYERS = {"base": 0, "io": 1, "domain": 2, "steps": 3}
# What building the DAG must not import: each costs seconds, or is missing from the envs of
# most rules (tensorflow, pythia8mc).
HEAVY = (
    "h5py",
    "pyarrow",
    "pandas",
    "tensorflow",
    "keras",
    "pythia8mc",
    "matplotlib",
    "sklearn",
    "energyflow",
    "optuna",
)


def in_io(module: str) -> bool:
    """Whether a library module (a dotted name under hepml) is part of the I/O layer."""
    return module == IO or module.startswith(f"{IO}.")


def layer(module: str) -> str:
    """The layer of a library module (a dotted name under hepml)."""
    if module in BASE or module == "hepml":
        return "base"
    if in_io(module):
        return "io"
    if module == "hepml.steps" or module.startswith("hepml.steps."):
        return "steps"
    return "domain"


def module_name(path: Path) -> str:
    parts = path.relative_to(LIBRARY.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, known: set[str]) -> set[str]:
    """The library modules a source text imports; ``from hepml.x import y`` counts as
    hepml.x.y when that is a module (``known``), else as hepml.x."""
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("hepml"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if not node.module.startswith("hepml"):
                continue
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                found.add(candidate if candidate in known else node.module)
    return found


def library_modules() -> dict[str, str]:
    """Dotted name -> source of every module of the library."""
    return {module_name(path): path.read_text() for path in sorted(LIBRARY.rglob("*.py"))}


def direction_violations(modules: dict[str, str], known: set[str]) -> list[str]:
    """'a imports b' for every import from a lower layer into a higher one."""
    problems = []
    for name, source in modules.items():
        for target in sorted(imported_modules(source, known)):
            if LAYERS[layer(target)] > LAYERS[layer(name)]:
                problems.append(f"{name} ({layer(name)}) imports {target} ({layer(target)})")
    return problems


def test_imports_run_one_way():
    modules = library_modules()
    assert direction_violations(modules, set(modules)) == []


def test_the_direction_check_fails_on_a_module_that_breaks_it():
    modules = library_modules()
    known = set(modules)
    broken = {
        "hepml.metrics": "def f():\n    from hepml.steps import evaluate\n",
        "hepml.io": "from hepml import hl\n",
        "hepml.geometry": "import hepml.io.efp_store\n",
    }
    assert direction_violations(broken, known) == [
        "hepml.metrics (domain) imports hepml.steps.evaluate (steps)",
        "hepml.io (io) imports hepml.hl (domain)",
        "hepml.geometry (base) imports hepml.io.efp_store (io)",
    ]


def rule_script_pairs() -> dict[str, Path]:
    """Rule (or checkpoint) name -> the script its ``script:`` directive names."""
    pairs = {}
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        found = re.findall(
            r'^(?:rule|checkpoint) (\w+):(?:(?!^(?:rule|checkpoint) ).)*?script:\s*"\.\./scripts/'
            r'(\w+\.py)"',
            path.read_text(),
            flags=re.M | re.S,
        )
        pairs.update({rule: REPO / "scripts" / script for rule, script in found})
        # a rule defined once per dataset in a loop, named f"<rule>_{dataset}" (unpack_h5)
        found = re.findall(
            r'^\s+rule:\s*\n\s+name:\s*f"(\w+?)_\{\w+\}"(?:(?!^\s+rule:).)*?script:\s*'
            r'"\.\./scripts/(\w+\.py)"',
            path.read_text(),
            flags=re.M | re.S,
        )
        pairs.update({rule: REPO / "scripts" / script for rule, script in found})
    return pairs


def rule_scripts() -> list[Path]:
    """The scripts named by a ``script:`` directive of the rules."""
    return sorted(set(rule_script_pairs().values()))


def calls_step(script: str, rule: str) -> bool:
    """Whether a script's text imports a steps module and calls its function ``rule``."""
    imports = re.findall(r"^from hepml\.steps import (\w+)(?: as (\w+))?", script, re.M)
    return any(f"{alias or module}.{rule}(" in script for module, alias in imports)


def test_every_rule_script_calls_the_step_named_after_its_rule():
    """A newcomer finds any rule's code in one hop: scripts/<rule>.py calls
    hepml.steps.<stage>.<rule> (docs/architecture.md "Rule map")."""
    pairs = rule_script_pairs()
    assert len(pairs) >= 25
    missing = [rule for rule, script in pairs.items() if not calls_step(script.read_text(), rule)]
    assert missing == []
    assert calls_step("from hepml.steps import efp as steps\nsteps.draw_efps(x)\n", "draw_efps")
    assert not calls_step("from hepml.steps import efp\nefp.draw_efp_gallery()\n", "draw_efps")


#: How a thin script hands its job to the step (docs/architecture.md "One calling convention").
CONVENTION = {
    "inputs": "dict(snakemake.input.items())",
    "outputs": "dict(snakemake.output.items())",
    "params": "dict(snakemake.params.items())",
    "threads": "int(snakemake.threads)",
}


def convention_violations(script: str) -> list[str]:
    """What in a rule script's call of its step breaks the calling convention: every argument
    a keyword, the rule's inputs, outputs and params each passed whole as a dict, wildcards as
    ``name=str(snakemake.wildcards.name)``, threads as ``int(snakemake.threads)``; outputs
    always; nothing else computed in the script (no settings built, no paths picked)."""
    tree = ast.parse(script)
    calls = [
        node.value
        for node in tree.body
        if isinstance(node, ast.Expr)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Attribute)
        and not ast.unparse(node.value.func).startswith("log_to")
    ]
    if len(calls) != 1:
        return [f"{len(calls)} step calls at module level (expected 1)"]
    call = calls[0]
    problems = [f"positional argument {ast.unparse(arg)}" for arg in call.args]
    names = [keyword.arg for keyword in call.keywords]
    if "outputs" not in names:
        problems.append("no outputs=")
    for keyword in call.keywords:
        value = ast.unparse(keyword.value)
        expected = CONVENTION.get(keyword.arg, f"str(snakemake.wildcards.{keyword.arg})")
        if value != expected:
            problems.append(f"{keyword.arg}={value} (expected {expected})")
    assignments = [
        ast.unparse(node)
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        and ast.unparse(node) != "snakemake = snakemake"
    ]
    return problems + [f"computed in the script: {text}" for text in assignments]


def step_parameter_violations(function: ast.FunctionDef) -> list[str]:
    """The step's positional parameters must be, in order, those of inputs, outputs, params
    its rule has (outputs always); wildcards and threads come after."""
    positional = [arg.arg for arg in function.args.posonlyargs + function.args.args]
    leading = [name for name in positional if name in ("inputs", "outputs", "params")]
    if "outputs" not in leading or positional[: len(leading)] != leading:
        return [f"{function.name}({', '.join(positional)})"]
    if leading != sorted(leading, key=["inputs", "outputs", "params"].index):
        return [f"{function.name}({', '.join(positional)})"]
    return []


def test_every_rule_script_follows_the_one_calling_convention():
    """Every thin script passes its rule's inputs, outputs and params whole, as dicts, to the
    step named after the rule, whose signature starts (inputs, outputs, params)."""
    pairs = rule_script_pairs()
    assert len(pairs) >= 25
    scripts = {rule: convention_violations(path.read_text()) for rule, path in pairs.items()}
    assert {rule: found for rule, found in scripts.items() if found} == {}
    steps = {}
    for path in sorted((LIBRARY / "steps").glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name in pairs:
                steps[node.name] = step_parameter_violations(node)
    assert sorted(steps) == sorted(pairs)  # every rule's step was found
    assert {rule: found for rule, found in steps.items() if found} == {}
    # negative controls: the two conventions this one replaced
    keywords = (
        "settings = snakemake.params.settings\n"
        "guided.select_next_efp(\n"
        "    model_scores_path=str(snakemake.input.model_scores),\n"
        "    seed=int(settings['seed']),\n"
        "    choice_path=str(snakemake.output.choice),\n"
        ")\n"
    )
    assert len(convention_violations(keywords)) == 5
    mixed = "models.score_model(inputs=dict(snakemake.input.items()), out_path=x)\n"
    assert convention_violations(mixed) == [
        "no outputs=",
        "out_path=x (expected str(snakemake.wildcards.out_path))",
    ]
    old = ast.parse("def score_model(inputs, split, settings, out_path, threads): pass").body[0]
    assert step_parameter_violations(old) != []
    new = ast.parse("def score_model(inputs, outputs, params, *, split, threads): pass").body[0]
    assert step_parameter_violations(new) == []


def test_rule_scripts_reach_files_only_through_the_steps():
    """No rule script imports the I/O layer: reading inputs and writing outputs is the job of
    its step (or, for the generator's scripts, of hepml.sources.pythia.chunks)."""
    known = set(library_modules())
    scripts = rule_scripts()
    assert len(scripts) >= 20
    offending = {
        path.name: sorted(layer_io)
        for path in scripts
        if (layer_io := {m for m in imported_modules(path.read_text(), known) if in_io(m)})
    }
    assert offending == {}
    assert {m for m in imported_modules("from hepml import io\n", known) if in_io(m)} == {IO}
    assert {m for m in imported_modules("from hepml.io import jets\n", known) if in_io(m)} == {
        "hepml.io.jets"
    }


def rules_imports() -> list[str]:
    """The ``from hepml... import ...`` statements of the Snakefile and rules/*.smk, as
    written (parenthesised ones joined)."""
    statements = []
    for path in [REPO / "Snakefile", *sorted((REPO / "rules").glob("*.smk"))]:
        text = path.read_text()
        statements += re.findall(r"^from hepml[\w.]* import (?:\([^)]*\)|[^\n]*)", text, re.M)
    return statements


def heavy_modules_after(statements: list[str]) -> list[str]:
    """The HEAVY modules loaded by running the statements in a fresh interpreter."""
    code = "\n".join(
        [
            "import json, sys",
            f"sys.path.insert(0, {str(REPO / 'scripts')!r})",
            *statements,
            f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))",
        ]
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_building_the_dag_imports_only_light_modules():
    statements = rules_imports()
    assert any("hepml.guided" in s for s in statements)  # the parse found the imports
    assert heavy_modules_after(statements) == []


@pytest.mark.parametrize(
    ("statement", "heavy"),
    # hepml.io imports a module on first use of one of its names (``io.unpack_key``)
    [("from hepml import io\nio.unpack_key", "h5py"), ("from hepml.steps import guided", "pandas")],
)
def test_the_light_import_check_sees_heavy_modules(statement, heavy):
    assert heavy in heavy_modules_after([statement])


# The modules that build or run a network, and load TensorFlow (through Keras) on import.
NETWORK_MODULES = {
    "hepml.models.networks",
    "hepml.models.particles",
    "hepml.training.preprocess",  # its InputSpec is models.networks'
    "hepml.training.fit",
    "hepml.training.tuning",
}


def test_only_the_network_modules_load_tensorflow():
    """Importing TensorFlow costs ~5 CPU-s per job: the rules without a network (train_bdt,
    train_efp_linear, score_model of a BDT or the linear model, every plot, data and EFP rule)
    must not pay it. Every other module of the library, the steps modules of every rule among
    them, imports without it; the steps load the network code on first use."""
    modules = library_modules()
    assert NETWORK_MODULES <= set(modules)
    light = sorted(set(modules) - NETWORK_MODULES)
    assert {"hepml.steps.models", "hepml.training.bdt", "hepml.plots.eval"} <= set(light)
    loaded = heavy_modules_after([f"import {name}" for name in light])
    assert "tensorflow" not in loaded and "keras" not in loaded, loaded
