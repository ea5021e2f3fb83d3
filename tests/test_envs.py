"""The conda environments envs/*.yaml agree with the lock and with the rules that use them.

Conda channels are out of reach here, so the environments cannot be created in a test;
instead every pin is checked against requirements.txt, every rule is checked to name an
existing environment, and every script rule is checked to import only packages its
environment installs (following `hepml` imports into the library).
"""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from pathlib import Path

import make_envs
import pytest
import yaml
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
ENV_DIR = REPO / "envs"
SCRIPTS = REPO / "scripts"

# conda-forge names of packages whose PyPI name differs (the lock uses PyPI names).
CONDA_TO_PYPI = {
    "pytables": "tables",
    "pytorch": "torch",
    "py-xgboost": "xgboost",
    "tensorflow-cpu": "tensorflow",
    "tensorflow-gpu": "tensorflow",
    "matplotlib-base": "matplotlib",
    "python-dateutil": "python-dateutil",
}
# Conda-only entries an environment may carry without a pin in the lock.
CONDA_UNPINNED = {"pip"}
# Imports that need no package: the library next to the scripts, and snakemake, which puts
# itself on the path of every script it runs.
LOCAL_IMPORTS = {"hepml", "snakemake"}

PIP_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]+\])?==(?P<version>\S+)$")


# --------------------------------------------------------------------- pins vs. the lock
def pin_problems(env_text: str, lock: dict[str, tuple[str, str]], label: str) -> list[str]:
    """Every disagreement between one environment file's pins and the lock."""
    problems = []
    spec = yaml.safe_load(env_text)
    for entry in spec.get("dependencies", []):
        if isinstance(entry, dict):
            for pin in entry.get("pip", []):
                match = PIP_PIN.match(pin)
                if match is None:
                    problems.append(f"{label}: pip entry {pin!r} is not pinned as name==version")
                    continue
                problems += version_problems(
                    match["name"], match["version"], lock, f"{label}: pip {pin}"
                )
            continue
        name, _, version = str(entry).partition("=")
        name = name.strip()
        if name == "python":
            if version != make_envs.PYTHON:
                problems.append(f"{label}: python={version}, the lock is for {make_envs.PYTHON}")
        elif name in CONDA_UNPINNED:
            continue
        elif not version:
            problems.append(f"{label}: conda package {name!r} has no version pin")
        else:
            pypi = CONDA_TO_PYPI.get(name, name)
            problems += version_problems(pypi, version.lstrip("="), lock, f"{label}: conda {entry}")
    return problems


def version_problems(name, version, lock, label):
    key = canonicalize_name(name)
    if key not in lock:
        return [f"{label}: {name} is not in requirements.txt"]
    if lock[key][1] != version:
        return [f"{label}: pins {version}, requirements.txt pins {lock[key][1]}"]
    return []


@pytest.fixture(scope="module")
def lock():
    return make_envs.read_lock()


def test_every_environment_exists():
    names = {path.name for path in ENV_DIR.glob("*.yaml")}
    assert names == {f"{env.name}.yaml" for env in make_envs.ENVIRONMENTS}


@pytest.mark.parametrize("path", sorted(ENV_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_environment_pins_match_lock(path, lock):
    assert pin_problems(path.read_text(), lock, path.name) == []


def test_pin_check_catches_drift(lock):
    """The check above can fail: a changed version, an unlocked package, a bad conda pin."""
    good = (ENV_DIR / "plot.yaml").read_text()
    name, version = lock[canonicalize_name("pandas")]
    drifted = good.replace(f"{name}=={version}", f"{name}==0.0.1")
    unlocked = good + "      - left-pad==1.0\n"
    conda = good.replace("  - pip\n", "  - pip\n  - numpy=1.0\n  - pytables=9.9\n", 1)
    assert pin_problems(good, lock, "x") == []
    assert pin_problems(drifted, lock, "x") == [
        f"x: pip {name}==0.0.1: pins 0.0.1, requirements.txt pins {version}"
    ]
    assert pin_problems(unlocked, lock, "x") == [
        "x: pip left-pad==1.0: left-pad is not in requirements.txt"
    ]
    assert len(pin_problems(conda, lock, "x")) == 2
    assert pin_problems(good.replace("python=3.11", "python=3.12"), lock, "x") != []


def test_generator_output_is_committed():
    expected = make_envs.render_all()
    committed = {path.name: path.read_text() for path in ENV_DIR.glob("*.yaml")}
    stale = sorted(name for name in expected if committed.get(name) != expected[name])
    assert stale == [], f"run `make envs`: {stale} differ from scripts/make_envs.py output"


def test_lock_parser_names_the_bad_line(tmp_path):
    bad = tmp_path / "requirements.txt"
    bad.write_text("# comment\nnumpy==1.26.4\npandas>=2\n")
    with pytest.raises(ValueError, match=r"requirements.txt:3: expected 'name==version'"):
        make_envs.read_lock(bad)


# ------------------------------------------------------------------------ rules vs. envs
RULES_SNIPPET = """
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings

with SnakemakeApi(OutputSettings(quiet={"all"})) as api:
    workflow = api.workflow(
        resource_settings=ResourceSettings(),
        config_settings=ConfigSettings(),
        snakefile=Path("Snakefile"),
    )._workflow
    rules = [
        {
            "name": rule.name,
            "conda": rule.conda_env if isinstance(rule.conda_env, str) else None,
            "conda_set": rule.conda_env is not None,
            "script": rule.script,
            "action": not rule.norun,
            "snakefile": str(rule.snakefile),
        }
        for rule in workflow.rules
    ]
sys.stdout.write("RULES=" + json.dumps(rules) + "\\n")
"""


@pytest.fixture(scope="module")
def workflow_rules():
    """Every rule of the workflow as Snakemake's API sees it (a subprocess: ~2 s)."""
    done = subprocess.run(
        [sys.executable, "-c", RULES_SNIPPET],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RULES=")]
    assert done.returncode == 0 and lines, f"loading the workflow failed:\n{done.stderr[-3000:]}"
    return json.loads(lines[-1].removeprefix("RULES="))


def rule_env_problems(rules: list[dict]) -> list[str]:
    """Rules with an action but no conda env, or whose env file is missing."""
    problems = []
    for rule in rules:
        if not rule["action"]:
            continue
        if not rule["conda_set"]:
            problems.append(f"rule {rule['name']} ({rule['snakefile']}) has no conda: directive")
            continue
        if rule["conda"] is None:
            continue  # a function of wildcards/config: resolved per job, checked in its rule
        path = (Path(rule["snakefile"]).parent / rule["conda"]).resolve()
        if path.parent != ENV_DIR or not path.is_file():
            problems.append(
                f"rule {rule['name']}: conda env {rule['conda']} is not a file in envs/"
            )
    return problems


def test_every_rule_names_an_existing_env(workflow_rules):
    assert [rule["name"] for rule in workflow_rules if rule["action"]], "no rules loaded"
    assert rule_env_problems(workflow_rules) == []


def test_rule_check_catches_missing_env():
    rule = {"name": "x", "action": True, "snakefile": str(REPO / "rules" / "x.smk")}
    missing = {**rule, "conda": None, "conda_set": False}
    wrong = {**rule, "conda": "../envs/nope.yaml", "conda_set": True}
    good = {**rule, "conda": "../envs/data.yaml", "conda_set": True}
    assert len(rule_env_problems([missing, wrong, good])) == 2


RULE_HEADER = re.compile(r"^(?:rule|checkpoint)\s+(\w+)\s*:", re.MULTILINE)
ACTION = re.compile(r"^\s+(?:shell|script|run|notebook|wrapper)\s*:", re.MULTILINE)
CONDA = re.compile(r"^\s+conda\s*:", re.MULTILINE)


def smk_rules_without_conda(text: str) -> list[str]:
    """Rules in one .smk text that have an action but no conda: directive."""
    headers = list(RULE_HEADER.finditer(text))
    missing = []
    for header, following in zip(headers, [*headers[1:], None], strict=False):
        block = text[header.end() : following.start() if following else len(text)]
        block = re.split(r"^\S", block, maxsplit=1, flags=re.MULTILINE)[0]
        if ACTION.search(block) and not CONDA.search(block):
            missing.append(header.group(1))
    return missing


def test_rule_files_name_conda_envs():
    """Also the rule files the Snakefile does not include (yet)."""
    for path in sorted((REPO / "rules").glob("*.smk")):
        assert smk_rules_without_conda(path.read_text()) == [], path.name
    bad = 'rule a:\n    output:\n        "x"\n    shell:\n        "touch {output}"\n'
    assert smk_rules_without_conda(bad) == ["a"]


# ------------------------------------------------------------- script imports vs. envs
def imported_modules(path: Path) -> set[str]:
    """Names a Python file imports when it is imported (absolute, dotted).

    Imports inside functions are not followed: the library defers optional heavy imports on
    purpose (e.g. energyflow in hepml.efp.graphs, needed only by the rules that compute EFPs).
    """
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    pending = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            # relative imports only occur inside the library: `from .io import x`
            parts = [node.module] if node.level == 0 else ["hepml", node.module]
            module = ".".join(part for part in parts if part)
            if module:
                names.add(module)
                names.update(f"{module}.{alias.name}" for alias in node.names)
        pending.extend(ast.iter_child_nodes(node))
    return names


def third_party_imports(script: Path) -> set[str]:
    """Top-level third-party modules a script needs, following hepml modules it imports."""
    seen_files: set[Path] = set()
    pending = [script]
    needed = set()
    while pending:
        path = pending.pop()
        if path in seen_files:
            continue
        seen_files.add(path)
        for name in imported_modules(path):
            top = name.split(".")[0]
            if top == "hepml":
                pending.extend(library_files(name))
            elif top not in sys.stdlib_module_names and top not in LOCAL_IMPORTS:
                needed.add(top)
    return needed


def library_files(name: str) -> list[Path]:
    """The files importing a dotted hepml name runs: every package __init__ on the way and
    the module itself (``hepml.steps.models`` -> hepml/__init__.py,
    hepml/steps/__init__.py, hepml/steps/models.py); a name that is no module (an
    attribute, ``hepml.io.read_array``) adds nothing."""
    files = []
    directory = SCRIPTS
    for part in name.split("."):
        directory = directory / part
        if (directory / "__init__.py").is_file():
            files.append(directory / "__init__.py")
        elif directory.with_suffix(".py").is_file():
            files.append(directory.with_suffix(".py"))
            break
        else:
            break
    return files


def env_packages(env_path: Path) -> set[str]:
    """Canonical names of the pip packages an environment file installs."""
    spec = yaml.safe_load(env_path.read_text())
    pins = [e for entry in spec["dependencies"] if isinstance(entry, dict) for e in entry["pip"]]
    return {canonicalize_name(PIP_PIN.match(pin)["name"]) for pin in pins}


def test_scripts_import_only_what_their_env_installs(workflow_rules):
    providers = importlib.metadata.packages_distributions()
    problems = []
    checked = 0
    for rule in workflow_rules:
        if not (rule["script"] and rule["conda"] and rule["script"].endswith(".py")):
            continue
        base = Path(rule["snakefile"]).parent
        script = (base / rule["script"]).resolve()
        env = (base / rule["conda"]).resolve()
        if not env.is_file():
            continue  # reported by test_every_rule_names_an_existing_env
        if not script.is_file():
            problems.append(f"{rule['name']}: script {rule['script']} does not exist")
            continue
        installed = env_packages(env)
        for module in sorted(third_party_imports(script)):
            distributions = {canonicalize_name(d) for d in providers.get(module, [module])}
            if not distributions & installed:
                problems.append(f"{rule['name']} imports {module}, not in {env.name}")
        checked += 1
    assert checked > 0, "no script rule was checked"
    assert problems == []


def test_import_scan_follows_the_library(tmp_path):
    script = tmp_path / "adapter.py"
    script.write_text("import json\nfrom hepml import io\nimport numpy as np\n")
    needed = third_party_imports(script)
    assert "numpy" in needed and "json" not in needed
    assert "h5py" in needed  # imported by hepml/io/'s re-exports, reached through the adapter
    script.write_text("from hepml.steps import models\n")
    assert "keras" in third_party_imports(script)  # through steps/ and models/networks.py
