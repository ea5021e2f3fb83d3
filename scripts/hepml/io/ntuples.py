"""Ntuples: samples of ROOT files read in chunks into one Feather table per sample.

The ``ntuples`` block of a ``source: ntuples`` dataset (docs/ntuples.md) names the samples
(files as globs, tree, role signal / background / data, process label, weight expression), the
constants, helper definitions, the preselection (a list of named cuts), the training variables
and the spectators, all written in the expression language of :mod:`hepml.expressions`.

For each sample, :func:`unpack_sample`

1. globs its files (relative to the block's ``path``; a pattern matching nothing is an error)
   and checks each file, before reading it, for the tree and every branch the expressions read;
2. reads only those branches with uproot's ``iterate`` in steps of at most ``step_size``
   entries, file after file, so memory is bounded by one step whatever the number of files
   and events;
3. per step: computes the definitions, the weight (signed: negative generator weights are kept
   in every yield; it must be finite for every event) and the cuts in order, adding each
   cut's events, sum of weights and sum of squared weights to the sample's cut-flow; then the
   variables and spectators of the events that pass, each of which must be finite (a missing
   object is NaN: the preselection must require the objects a variable indexes);
4. appends them as one record batch to ``{sample}.feather``, written under a hidden temporary
   name and renamed at the end, so a failure leaves no partial table behind.

Table columns: the variables and spectators (float32, in config order), ``weight`` (float64,
signed), ``label`` (int8: 1 signal, 0 background, null for data: data are unlabeled),
``sample``, ``process`` (strings) and ``entry`` (int64: the event's index in the sample's chain
of files, before preselection) and, when a seed is given (the workflow always gives one),
``split`` (string: ``train`` / ``valid`` / ``test`` for simulation, ``data`` for data), from
:func:`assign_split`: a hash of (seed, sample, entry), so it does not depend on the step size.

:func:`write_splits` gathers the simulation's tables into the shared stage's per-split files
(``features``, ``y``, ``weight``; the tabular layout of hepml.io.tabular), and
:func:`scored_tables` streams every sample's table with a classifier's score added (rule
apply_model).

How training handles negative weights is the block's ``negative_weights`` option, applied by
:func:`training_weights` (default ``absolute``); :func:`class_normalised_weights` then scales
each class to half the split's events (TMVA's NormMode EqualNumEvents; docs/ntuples.md
"Weights").
"""

from __future__ import annotations

import csv
import dataclasses
import glob
import hashlib
import logging
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from hepml.expressions import Expression, ExpressionError, Jagged, is_per_object, parse
from hepml.io.files import DataError
from hepml.settings import (
    CONFIG_KEY,
    NTUPLES_PATH,
    SPLITS,
    SettingsError,
    dataclass_from_config,
    reject_unknown_keys,
    subsections,
)

log = logging.getLogger(__name__)

ROLES = ("signal", "background", "data")
LABELS = {"signal": 1, "background": 0, "data": None}
NEGATIVE_WEIGHTS = ("absolute", "keep", "drop")
DEFAULT_STEP = 100_000
RESERVED = ("weight", "label", "sample", "process", "entry")
CUTFLOW_FIELDS = ("sample", "process", "role", "cut", "events", "sum_w", "sum_w2")
ALL_EVENTS = "all"
DATA_SPLIT = "data"  # the split column of data events (never trained on, never a metric)
SPLIT_COLUMN = "split"
SCORE_COLUMN = "score"


@dataclass(frozen=True)
class NtupleSplitSettings:
    """``ntuples.split``: the fractions of each simulated sample's events in valid and test
    (the rest train), drawn per event by :func:`assign_split` (docs/ntuples.md "Split")."""

    valid: float = 0.2
    test: float = 0.3

    @classmethod
    def from_config(cls, values: Mapping | None, where: str = "ntuples.split"):
        settings = dataclass_from_config(cls, values or {}, where)
        for name in ("valid", "test"):
            value = getattr(settings, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
                raise SettingsError(f"{where}.{name}: expected a fraction in (0, 1), got {value!r}")
        if settings.valid + settings.test >= 1:
            raise SettingsError(
                f"{where}: valid ({settings.valid}) + test ({settings.test}) must be below 1, "
                "so that events remain to train on"
            )
        return settings

    @property
    def fractions(self) -> dict[str, float]:
        return {"train": 1.0 - self.valid - self.test, "valid": self.valid, "test": self.test}


@dataclass(frozen=True)
class NtupleSettings:
    """The keys of the ``ntuples`` block as config/schema.yaml $defs/ntuples states them (the
    one source its schema entry is checked against, tests/test_settings_schema.py); the
    sub-blocks (``split``, ...) are classes of their own, registered under
    :data:`hepml.settings.NTUPLES_PATH`. :class:`NtupleBlock` is the parsed form."""

    samples: Mapping[str, Mapping]
    variables: Mapping[str, str]
    path: str | None = None
    tree: str | None = None
    step_size: int = DEFAULT_STEP
    negative_weights: str = "absolute"
    weight: str | None = None
    constants: Mapping[str, float] = field(default_factory=dict)
    define: Mapping[str, str] = field(default_factory=dict)
    preselection: tuple[Mapping, ...] = ()
    spectators: Mapping[str, str] = field(default_factory=dict)


def block_keys() -> list[str]:
    """Every key an ``ntuples`` block may hold: NtupleSettings' fields and the registered
    sub-blocks (split here; the others' owners register theirs)."""
    return [f.name for f in dataclasses.fields(NtupleSettings)] + list(subsections(NTUPLES_PATH))


class NtupleError(ValueError):
    """A sample cannot be read or computed; the message names the sample, the file, the
    expression and what was expected."""


@dataclass(frozen=True)
class Sample:
    """One sample: a process in one or more files (globs), one tree, one weight expression."""

    name: str
    files: tuple[str, ...]
    tree: str
    role: str
    process: str
    weight: Expression

    @property
    def label(self) -> int | None:
        return LABELS[self.role]


@dataclass(frozen=True)
class NtupleBlock:
    """The ``ntuples`` block of a dataset, parsed (every expression checked) at build time.

    Its keys are those of :class:`NtupleSettings` (registered in
    hepml.settings.CONFIG_SECTIONS, checked against config/schema.yaml $defs/ntuples) and of
    the registered sub-blocks; ``split`` is parsed here, the other sub-blocks by their
    owners."""

    samples: tuple[Sample, ...]
    constants: Mapping[str, float]
    define: tuple[tuple[str, Expression], ...]
    preselection: tuple[tuple[str, Expression], ...]
    variables: tuple[tuple[str, Expression], ...]
    spectators: tuple[tuple[str, Expression], ...] = ()
    path: str | None = None
    step_size: int = DEFAULT_STEP
    negative_weights: str = "absolute"
    derived: frozenset[str] = field(default=frozenset())
    split: NtupleSplitSettings = field(default_factory=NtupleSplitSettings)

    # The built-in ntuples' generator block (docs/ntuples.md "Built-in ntuples"), as given: a
    # settings section of its own (NtupleGenSettings in hepml.sources.pythia.higgs_ntuples, a
    # domain module, checks it when the DAG is built), so no config key of this class.
    generate: Mapping | None = field(default=None, metadata={CONFIG_KEY: None})

    @classmethod
    def from_config(cls, block: Mapping, where: str = "ntuples") -> NtupleBlock:
        reject_unknown_keys(block, block_keys(), where)
        constants = dict(block.get("constants") or {})
        for name, value in constants.items():
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise SettingsError(f"{where}.constants.{name}: expected a number, got {value!r}")
        mode = block.get("negative_weights", "absolute")
        if mode not in NEGATIVE_WEIGHTS:
            raise SettingsError(
                f"{where}.negative_weights: {mode!r} is not one of {list(NEGATIVE_WEIGHTS)}"
            )
        step = block.get("step_size", DEFAULT_STEP)
        if not isinstance(step, int) or isinstance(step, bool) or step < 1:
            raise SettingsError(f"{where}.step_size: expected a positive integer, got {step!r}")
        define = _named(block.get("define") or {}, f"{where}.define")
        variables = _named(block.get("variables") or {}, f"{where}.variables")
        spectators = _named(block.get("spectators") or {}, f"{where}.spectators")
        if not variables:
            raise SettingsError(f"{where}.variables: at least one training variable is needed")
        preselection = _cuts(block.get("preselection") or [], f"{where}.preselection")
        samples = _samples(block, f"{where}.samples")
        settings = cls(
            samples=samples,
            constants=constants,
            define=define,
            preselection=preselection,
            variables=variables,
            spectators=spectators,
            path=block.get("path"),
            step_size=step,
            negative_weights=mode,
            derived=frozenset(name for name, _ in define + variables + spectators),
            split=NtupleSplitSettings.from_config(block.get("split"), f"{where}.split"),
            generate=block.get("generate"),
        )
        settings.check_order(where)
        return settings

    def check_order(self, where: str) -> None:
        """Names are unique, reserved column names unused, and each expression reads only
        branches, constants and what is computed before it: definitions (in order) before the
        weight and the cuts, which come before the variables and spectators (in order)."""
        seen: set[str] = set()
        for name, _ in self.define + self.variables + self.spectators:
            if name in seen or name in self.constants:
                raise SettingsError(f"{where}: the name {name!r} is defined twice")
            if name in RESERVED:
                raise SettingsError(f"{where}: {name!r} is a column of every table (reserved)")
            seen.add(name)
        later = {name for name, _ in self.variables + self.spectators}
        defined: set[str] = set()
        for name, expression in self.define:
            _no_forward(expression, later | ({n for n, _ in self.define} - defined), where, name)
            defined.add(name)
        for label, expression in [(f"cut {c}", e) for c, e in self.preselection] + [
            (f"weight of sample {s.name}", s.weight) for s in self.samples
        ]:
            _no_forward(expression, later, where, label)
        computed: set[str] = set()
        for name, expression in self.variables + self.spectators:
            _no_forward(expression, later - computed, where, name)
            computed.add(name)

    def sample(self, name: str) -> Sample:
        for sample in self.samples:
            if sample.name == name:
                return sample
        raise NtupleError(f"no sample {name!r} (samples: {[s.name for s in self.samples]})")

    def expressions(self, sample: Sample) -> list[tuple[str, Expression]]:
        """Every expression a sample's reading evaluates, labelled for messages."""
        return (
            [(f"definition {n}", e) for n, e in self.define]
            + [(f"weight of sample {sample.name}", sample.weight)]
            + [(f"cut {n}", e) for n, e in self.preselection]
            + [(f"variable {n}", e) for n, e in self.variables]
            + [(f"spectator {n}", e) for n, e in self.spectators]
        )

    def branches(self, sample: Sample) -> list[str]:
        """The branches the sample's expressions read (nothing else is read from disk)."""
        names: set[str] = set()
        for _, expression in self.expressions(sample):
            names |= expression.names
        return sorted(names - self.derived - set(self.constants))

    @property
    def columns(self) -> list[str]:
        """The computed columns of every table, in order: variables, then spectators."""
        return [name for name, _ in self.variables + self.spectators]

    @property
    def variable_names(self) -> list[str]:
        """The training variables' names (a feature set's columns pick among these)."""
        return [name for name, _ in self.variables]


def _no_forward(expression: Expression, forbidden: set[str], where: str, label: str) -> None:
    early = sorted(expression.names & forbidden)
    if early:
        raise SettingsError(
            f"{where}: {label} ({expression.text!r}) reads {early}, computed after it "
            "(definitions come first, then weights and cuts, then variables and spectators)"
        )


def _named(values: Mapping, where: str) -> tuple[tuple[str, Expression], ...]:
    if not isinstance(values, Mapping):
        raise SettingsError(f"{where}: expected a mapping name -> expression")
    out = []
    for name, text in values.items():
        if not str(name).isidentifier() or str(name).startswith("__"):
            raise SettingsError(f"{where}: {name!r} is not a valid name")
        out.append((str(name), parse(text, context=f"{where}.{name}")))
    return tuple(out)


def _cuts(values: Iterable, where: str) -> tuple[tuple[str, Expression], ...]:
    out = []
    for number, entry in enumerate(values):
        if not (isinstance(entry, Mapping) and set(entry) == {"name", "cut"}):
            raise SettingsError(
                f"{where}[{number}]: expected {{name: ..., cut: ...}}, got {entry!r}"
            )
        name = str(entry["name"])
        if name == ALL_EVENTS or name in [n for n, _ in out]:
            raise SettingsError(f"{where}[{number}]: the cut name {name!r} is used twice")
        out.append((name, parse(entry["cut"], context=f"{where}.{name}")))
    return tuple(out)


def _samples(block: Mapping, where: str) -> tuple[Sample, ...]:
    values = block.get("samples")
    if not isinstance(values, Mapping) or not values:
        raise SettingsError(f"{where}: expected a mapping of sample name -> sample")
    default_tree, default_weight = block.get("tree"), block.get("weight")
    samples = []
    for name, sample in values.items():
        here = f"{where}.{name}"
        reject_unknown_keys(sample, ["files", "tree", "role", "process", "weight"], here)
        role = sample.get("role")
        if role not in ROLES:
            raise SettingsError(f"{here}.role: {role!r} is not one of {list(ROLES)}")
        files = sample.get("files")
        files = [files] if isinstance(files, str) else files
        if not files or not all(isinstance(f, str) and f for f in files):
            raise SettingsError(f"{here}.files: expected one or more file globs, got {files!r}")
        tree = sample.get("tree", default_tree)
        if not tree:
            raise SettingsError(f"{here}.tree: no tree name (here or in the block's tree)")
        weight = sample.get("weight", "1" if role == "data" else default_weight)
        if weight is None:
            raise SettingsError(f"{here}.weight: no weight expression (here or in the block's)")
        samples.append(
            Sample(
                name=str(name),
                files=tuple(files),
                tree=str(tree),
                role=role,
                process=str(sample.get("process", name)),
                weight=parse(str(weight), context=f"{here}.weight"),
            )
        )
    if not any(s.role == "signal" for s in samples):
        raise SettingsError(f"{where}: no sample has role signal")
    return tuple(samples)


# --------------------------------------------------------------------------- weights
def training_weights(weight: np.ndarray, mode: str = "absolute") -> np.ndarray:
    """The per-event weights a model trains with, from the signed physics weights.

    absolute (default): |w|, every event pulls towards its own label and the loss stays
    bounded below; keep: w as is (unbiased in expectation, but a negative weight rewards the
    wrong answer and can destabilise a fit); drop: negative weights set to 0 (the events are
    kept, with no say).  Yields, cut-flows, validation choices and test metrics always use the
    signed weights (docs/ntuples.md "Weights").
    """
    weight = np.asarray(weight, dtype=np.float64)
    if mode == "absolute":
        return np.abs(weight)
    if mode == "keep":
        return weight.copy()
    if mode == "drop":
        return np.where(weight < 0, 0.0, weight)
    raise ValueError(f"negative_weights: {mode!r} is not one of {list(NEGATIVE_WEIGHTS)}")


def class_normalised_weights(
    weight: np.ndarray, y: np.ndarray, mode: str = "absolute", where: str = "split"
) -> np.ndarray:
    """The weights a model trains (and early-stops) with: :func:`training_weights` of the
    signed physics weights, then each class scaled so that signal and background each sum to
    half the split's number of events (TMVA's ``NormMode=EqualNumEvents``): the classes weigh
    the same in the loss whatever their cross-sections, and the mean weight is 1, the scale
    the learning rate and LightGBM's leaf constraints assume. ValueError (naming ``where``)
    when a class sums to zero or less."""
    w = training_weights(weight, mode)
    y = np.asarray(y)
    out = w.copy()
    for label, name in ((1, "signal"), (0, "background")):
        mask = y == label
        total = float(w[mask].sum())
        if not total > 0:
            raise ValueError(
                f"{where}: the {name} training weights (negative_weights {mode!r}) sum to "
                f"{total:g} over {int(mask.sum())} events; expected a positive sum"
            )
        out[mask] *= 0.5 * len(w) / total
    return out


# --------------------------------------------------------------------------- the split
def _split_key(seed: int, sample: str) -> np.uint64:
    digest = hashlib.sha256(f"{int(seed)}\0{sample}".encode()).digest()
    return np.uint64(int.from_bytes(digest[:8], "little"))


def split_uniforms(seed: int, sample: str, entry: np.ndarray) -> np.ndarray:
    """(N,) float64 in [0, 1): one uniform number per event from a hash of (seed, sample,
    entry) (SHA-256 of the seed and sample name as a 64-bit key, added to the entry and
    mixed by SplitMix64's finaliser, Steele, Lea & Flood, OOPSLA 2014): the same event gets
    the same number whatever the step size, the file order of other samples or the machine."""
    with np.errstate(over="ignore"):
        z = np.asarray(entry).astype(np.uint64) + _split_key(seed, sample)
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) * 2.0**-53


def assign_split(
    seed: int, sample: str, entry: np.ndarray, split: NtupleSplitSettings, role: str = "signal"
) -> np.ndarray:
    """(N,) str: ``valid`` where the event's uniform (:func:`split_uniforms`) is below
    split.valid, ``test`` below split.valid + split.test, ``train`` above; ``data`` for every
    event of a data sample."""
    entry = np.asarray(entry)
    if role == "data":
        return np.full(entry.shape, DATA_SPLIT, dtype=object)
    u = split_uniforms(seed, sample, entry)
    codes = (u >= split.valid).astype(np.int8) + (u >= split.valid + split.test)
    return np.array(["valid", "test", "train"], dtype=object)[codes]


# --------------------------------------------------------------------------- reading
def sample_files(sample: Sample, root: str | os.PathLike | None = None) -> list[Path]:
    """The sample's files: each glob relative to ``root`` (the block's ``path``), sorted, in
    the order of the globs; a glob matching nothing is an error naming it."""
    base = Path(root) if root is not None else Path()
    files: list[Path] = []
    for pattern in sample.files:
        found = sorted(glob.glob(str(base / pattern)))
        if not found:
            raise NtupleError(
                f"sample {sample.name}: no file matches {pattern!r} (in {str(base) or '.'})"
            )
        files += [Path(f) for f in found if Path(f) not in files]
    return files


def check_tree(settings: NtupleBlock, sample: Sample, path: Path, handle):
    """The sample's tree in an open file, after checking that it holds every branch the
    expressions read and that no derived or constant name shadows a branch; NtupleError
    naming sample, file, tree, the missing branch and the expressions that read it."""
    if sample.tree not in handle:
        trees = sorted({key.split(";")[0] for key in handle.keys(recursive=False)})
        raise NtupleError(
            f"sample {sample.name}: file {path}: no tree {sample.tree!r} (it holds {trees})"
        )
    tree = handle[sample.tree]
    branches = set(tree.keys())
    for name in sorted(set(settings.branches(sample)) - branches):
        users = [
            f"{label} ({e.text!r})" for label, e in settings.expressions(sample) if name in e.names
        ]
        raise NtupleError(
            f"sample {sample.name}: file {path}, tree {sample.tree}: no branch {name!r}, "
            f"read by {', '.join(users)}"
        )
    shadowed = sorted((settings.derived | set(settings.constants)) & branches)
    if shadowed:
        raise NtupleError(
            f"sample {sample.name}: file {path}: the derived or constant name(s) {shadowed} "
            "are also branches of the tree; rename them"
        )
    return tree


def iterate_sample(
    settings: NtupleBlock, sample: Sample, files: list[Path]
) -> Iterator[dict[str, np.ndarray | Jagged]]:
    """The sample's needed branches in steps of at most ``settings.step_size`` entries, file
    after file (each checked by :func:`check_tree` before it is read): flat branches as numpy,
    per-object branches as :class:`hepml.expressions.Jagged`."""
    import uproot

    branches = settings.branches(sample)
    for path in files:
        try:
            handle = uproot.open(path)
        except Exception as error:  # uproot raises many types for a file that is not ROOT
            raise NtupleError(
                f"sample {sample.name}: file {path}: cannot be read as ROOT ({error})"
            ) from None
        with handle:
            tree = check_tree(settings, sample, path, handle)
            for arrays in tree.iterate(
                filter_name=branches, step_size=settings.step_size, library="ak", how=dict
            ):
                yield {name: _numpy(value) for name, value in arrays.items()}


def _numpy(value) -> np.ndarray | Jagged:
    if is_per_object(value):
        return Jagged.from_awkward(value)
    import awkward as ak

    return np.asarray(ak.to_numpy(value))


# --------------------------------------------------------------------------- computing
@dataclass
class Cutflow:
    """The weighted cut-flow of one sample: events, sum of weights and of squared weights
    before any cut (``all``) and after each cut of the preselection, in order."""

    sample: str
    process: str
    role: str
    cuts: tuple[str, ...]
    events: np.ndarray = field(init=False)  # (cuts + 1,) int64
    sum_w: np.ndarray = field(init=False)
    sum_w2: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        size = len(self.cuts) + 1
        self.events = np.zeros(size, dtype=np.int64)
        self.sum_w = np.zeros(size)
        self.sum_w2 = np.zeros(size)

    def add(self, row: int, mask: np.ndarray, weight: np.ndarray) -> None:
        selected = weight[mask]
        self.events[row] += int(mask.sum())
        self.sum_w[row] += float(selected.sum())
        self.sum_w2[row] += float(np.square(selected).sum())

    def rows(self) -> list[dict]:
        return [
            {
                "sample": self.sample,
                "process": self.process,
                "role": self.role,
                "cut": cut,
                "events": int(self.events[i]),
                "sum_w": float(self.sum_w[i]),
                "sum_w2": float(self.sum_w2[i]),
            }
            for i, cut in enumerate((ALL_EVENTS, *self.cuts))
        ]


def _subset(value, mask: np.ndarray):
    if isinstance(value, Jagged) or np.ndim(value) > 0:
        return value[mask]
    return value  # a constant


def compute_chunk(
    settings: NtupleBlock, sample: Sample, arrays: Mapping, cutflow: Cutflow
) -> dict[str, np.ndarray]:
    """One step of a sample: definitions, weight, cuts (counted into ``cutflow``), then the
    variables, spectators and weight of the events that pass (numpy, finite)."""
    length = len(next(iter(arrays.values()))) if arrays else 0
    context = f"sample {sample.name}"
    columns: dict = dict(arrays)
    columns.update({k: np.float64(v) for k, v in settings.constants.items()})
    for name, expression in settings.define:
        columns[name] = expression.evaluate(columns, length, f"{context}, definition {name}")
    weight = sample.weight.evaluate(columns, length, f"{context}, weight")
    if weight.dtype == np.bool_:
        raise NtupleError(f"{context}: weight {sample.weight.text!r} is boolean, not a number")
    weight = weight.astype(np.float64, copy=False)
    _check_finite(weight, context, f"weight ({sample.weight.text!r})", "events")
    mask = np.ones(length, dtype=np.bool_)
    cutflow.add(0, mask, weight)
    for row, (name, expression) in enumerate(settings.preselection, start=1):
        passed = expression.evaluate(columns, length, f"{context}, cut {name}")
        if passed.dtype != np.bool_:
            raise NtupleError(
                f"{context}: cut {name} ({expression.text!r}) is not a condition (got "
                f"{passed.dtype} values): write a comparison"
            )
        mask &= passed
        cutflow.add(row, mask, weight)
    selected = {name: _subset(value, mask) for name, value in columns.items()}
    out: dict[str, np.ndarray] = {}
    count = int(mask.sum())
    labelled = [("variable", *item) for item in settings.variables] + [
        ("spectator", *item) for item in settings.spectators
    ]
    for kind, name, expression in labelled:
        value = expression.evaluate(selected, count, f"{context}, {kind} {name}")
        value = value.astype(np.float64)
        _check_finite(value, context, f"{kind} {name} ({expression.text!r})")
        selected[name] = value
        out[name] = value
    out["weight"] = weight[mask]
    out["entry"] = np.flatnonzero(mask)  # index within this step
    return out


def _check_finite(values: np.ndarray, context: str, what: str, which: str = "selected events"):
    bad = ~np.isfinite(values)
    if bad.any():
        raise NtupleError(
            f"{context}: {what} is NaN or infinite for {int(bad.sum())} of {values.size} "
            f"{which} (a missing object is NaN: require it in the preselection, e.g. "
            "lep_n >= 1; data take weight '1')"
        )


# --------------------------------------------------------------------------- writing
def table_schema(settings: NtupleBlock, split: bool = False) -> pa.Schema:
    """The Arrow schema of every sample table (module docstring); ``split``: with the split
    column."""
    return pa.schema(
        [pa.field(name, pa.float32()) for name in settings.columns]
        + [
            pa.field("weight", pa.float64()),
            pa.field("label", pa.int8()),
            pa.field("sample", pa.string()),
            pa.field("process", pa.string()),
            pa.field("entry", pa.int64()),
        ]
        + ([pa.field(SPLIT_COLUMN, pa.string())] if split else []),
        metadata={"columns": ",".join(settings.columns)},
    )


def _batch(settings, sample, values: Mapping, entries: np.ndarray, seed) -> pa.RecordBatch:
    size = len(entries)
    label = sample.label
    arrays = [pa.array(values[name].astype(np.float32)) for name in settings.columns] + [
        pa.array(values["weight"], pa.float64()),
        pa.nulls(size, pa.int8()) if label is None else pa.array(np.full(size, label, np.int8)),
        pa.array([sample.name] * size, pa.string()),
        pa.array([sample.process] * size, pa.string()),
        pa.array(entries, pa.int64()),
    ]
    if seed is not None:
        split = assign_split(seed, sample.name, entries, settings.split, sample.role)
        arrays.append(pa.array(split, pa.string()))
    return pa.RecordBatch.from_arrays(arrays, schema=table_schema(settings, seed is not None))


def unpack_sample(
    settings: NtupleBlock,
    name: str,
    output: str | os.PathLike,
    root=None,
    *,
    files: Sequence[str | os.PathLike] | None = None,
    seed: int | None = None,
) -> Cutflow:
    """Read sample ``name`` in steps and write its table to ``output`` (module docstring);
    returns its cut-flow.  ``root``: the directory of the sample globs (default: the block's
    ``path``, else the working directory); ``files``: the sample's files as resolved by the
    caller (the workflow resolves them when it builds the DAG), instead of the globs; ``seed``:
    add the ``split`` column (:func:`assign_split`, the block's ``split`` fractions).
    Nothing is left at ``output`` on failure."""
    sample = settings.sample(name)
    if files is None:
        files = sample_files(sample, settings.path if root is None else root)
    files = [Path(f) for f in files]
    cutflow = Cutflow(
        sample.name, sample.process, sample.role, tuple(n for n, _ in settings.preselection)
    )
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    start = 0
    try:
        with (
            pa.OSFile(str(tmp), "wb") as sink,
            pa.ipc.new_file(sink, table_schema(settings, seed is not None)) as writer,
        ):
            for arrays in iterate_sample(settings, sample, files):
                length = len(next(iter(arrays.values()))) if arrays else 0
                try:
                    values = compute_chunk(settings, sample, arrays, cutflow)
                except ExpressionError as error:
                    raise NtupleError(str(error)) from None
                entries = start + values["entry"]
                writer.write_batch(_batch(settings, sample, values, entries, seed))
                start += length
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    log.info(
        "sample %s: %d entries in %d file(s), %d pass the preselection (sum of weights %.6g)",
        sample.name,
        start,
        len(files),
        cutflow.events[-1],
        cutflow.sum_w[-1],
    )
    return cutflow


def write_cutflow(cutflows: Iterable[Cutflow], path: str | os.PathLike) -> None:
    """The cut-flows of several samples as one CSV (columns :data:`CUTFLOW_FIELDS`),
    written under a temporary name and renamed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CUTFLOW_FIELDS)
            writer.writeheader()
            for cutflow in cutflows:
                for row in cutflow.rows():
                    writer.writerow(
                        {**row, "sum_w": repr(row["sum_w"]), "sum_w2": repr(row["sum_w2"])}
                    )
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_cutflow(path: str | os.PathLike) -> list[dict]:
    """The rows of a cut-flow CSV (numbers parsed)."""
    with open(path, newline="") as handle:
        return [
            {
                **row,
                "events": int(row["events"]),
                "sum_w": float(row["sum_w"]),
                "sum_w2": float(row["sum_w2"]),
            }
            for row in csv.DictReader(handle)
        ]


def read_table(path: str | os.PathLike) -> pa.Table:
    """A sample table written by :func:`unpack_sample`."""
    with pa.memory_map(str(path), "r") as source:
        return pa.ipc.open_file(source).read_all()


def iter_batches(path: str | os.PathLike) -> Iterator[pa.RecordBatch]:
    """The record batches of a sample table, one at a time (memory: one batch, the reading
    step's events that passed)."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: the sample table is missing")
    with pa.memory_map(str(path), "r") as source:
        reader = pa.ipc.open_file(source)
        for index in range(reader.num_record_batches):
            yield reader.get_batch(index)


def _column(batch: pa.RecordBatch, name: str, path) -> pa.Array:
    index = batch.schema.get_field_index(name)
    if index < 0:
        raise DataError(
            f"{path}: no column {name!r} in the sample table (it has {batch.schema.names})"
        )
    return batch.column(index)


def write_splits(
    tables: Sequence[str | os.PathLike],
    columns: Sequence[str],
    outputs: Mapping[str, Mapping[str, str | os.PathLike]],
) -> dict[str, dict[str, int]]:
    """The simulation's sample tables -> each split's ``features`` (Arrow table of
    ``columns``, float32, one record batch per sample step), ``y`` (int8) and ``weight``
    (float64, the signed physics weight), the tabular kind's layout (hepml.io.tabular), so
    that the shared models, scores and metrics read them unchanged. outputs: split -> key ->
    path. Rows keep the tables' order (the network shuffles its batches; trees need no order).
    Returns split -> class -> events. DataError naming the table when a table has no split
    column or unlabeled rows, and naming the split when it lacks a class; nothing is written
    then."""
    from hepml.io.tabular import Block, _SplitWriter

    writers: dict[str, _SplitWriter] = {}
    counts = {split: {"signal": 0, "background": 0} for split in SPLITS}
    try:
        for split in SPLITS:
            writers[split] = _SplitWriter(outputs[split], list(columns))
        for path in tables:
            for batch in iter_batches(path):
                split = _column(batch, SPLIT_COLUMN, path).to_numpy(zero_copy_only=False)
                label = _column(batch, "label", path)
                if label.null_count:
                    raise DataError(
                        f"{path}: {label.null_count} unlabeled (data) rows; the training "
                        "splits take simulated samples only"
                    )
                y = label.to_numpy().astype(np.int8)
                weight = _column(batch, "weight", path).to_numpy().astype(np.float64)
                features = np.empty((batch.num_rows, len(columns)), dtype=np.float32)
                for j, name in enumerate(columns):
                    features[:, j] = _column(batch, name, path).to_numpy()
                block = Block(0, features, y, weight)
                for name in SPLITS:
                    mask = split == name
                    writers[name].write(block.take(mask))
                    counts[name]["signal"] += int((y[mask] == 1).sum())
                    counts[name]["background"] += int((y[mask] == 0).sum())
        for name, classes in counts.items():
            empty = [label for label, n in classes.items() if n == 0]
            if empty:
                raise DataError(
                    f"the {name} split has no {' and no '.join(empty)} events after the "
                    f"preselection (tables: {[str(t) for t in tables]}): a model needs both "
                    "classes in train, valid and test (more events, or other split fractions)"
                )
        for writer in writers.values():
            writer.finish()
        for writer in writers.values():
            writer.commit()
    finally:
        for writer in writers.values():
            writer.discard()
    return counts


def write_scored(
    tables: Sequence[str | os.PathLike],
    score: Callable[[np.ndarray], np.ndarray],
    columns: Sequence[str],
    output: str | os.PathLike,
) -> int:
    """Every row of every sample table (all its columns), with ``score`` (float32), the
    classifier's output on the rows' ``columns`` (``score``: (n, k) float32 -> (n,)), into one
    Arrow IPC (Feather) file, batch by batch, under a temporary name renamed at the end.
    Returns the rows written."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    writer, schema = None, None
    rows = 0
    try:
        with pa.OSFile(str(tmp), "wb") as sink:
            for path in tables:
                for batch in iter_batches(path):
                    x = np.empty((batch.num_rows, len(columns)), dtype=np.float32)
                    for j, name in enumerate(columns):
                        x[:, j] = _column(batch, name, path).to_numpy()
                    values = np.asarray(score(x), dtype=np.float32).reshape(-1)
                    out = batch.append_column(SCORE_COLUMN, pa.array(values, pa.float32()))
                    if writer is None:
                        writer, schema = pa.ipc.new_file(sink, out.schema), out.schema
                    elif not out.schema.equals(schema):
                        raise DataError(
                            f"{path}: its columns {out.schema.names} differ from the first "
                            f"table's {schema.names}"
                        )
                    writer.write_batch(out)
                    rows += batch.num_rows
            if writer is None:
                raise DataError(f"no rows to score in {[str(t) for t in tables]}")
            writer.close()
        os.replace(tmp, output)
    finally:
        tmp.unlink(missing_ok=True)
    return rows


def cutflow_table(rows: Iterable[Mapping]) -> list[dict]:
    """Cut-flow rows (:func:`read_cutflow`) with the statistical uncertainty of each weighted
    yield, ``sum_w_error`` = sqrt(sum_w2)."""
    return [{**row, "sum_w_error": float(np.sqrt(row["sum_w2"]))} for row in rows]


def cutflow_markdown(rows: Sequence[Mapping], digits: int = 4) -> str:
    """The gathered cut-flow as markdown: one row per cut, one column per sample (its
    process), each cell the weighted yield +- sqrt(sum w^2) (data: events); then the total
    of the backgrounds."""
    samples = list(dict.fromkeys(row["sample"] for row in rows))
    cuts = list(dict.fromkeys(row["cut"] for row in rows))
    by = {(row["sample"], row["cut"]): row for row in rows}
    roles = {row["sample"]: row["role"] for row in rows}
    process = {row["sample"]: row["process"] for row in rows}

    def cell(total: float, squares: float) -> str:
        return f"{total:.{digits}g} +- {np.sqrt(squares):.2g}"

    header = ["cut", *(f"{s} ({process[s]})" for s in samples), "total background"]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    for cut in cuts:
        cells = [cut]
        background = [0.0, 0.0]
        for sample in samples:
            row = by.get((sample, cut))
            if row is None:
                cells.append("")
                continue
            if roles[sample] == "data":
                cells.append(str(row["events"]))
                continue
            cells.append(cell(row["sum_w"], row["sum_w2"]))
            if roles[sample] == "background":
                background[0] += row["sum_w"]
                background[1] += row["sum_w2"]
        cells.append(cell(*background))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


__all__ = [
    "Cutflow",
    "NtupleSettings",
    "NtupleSplitSettings",
    "assign_split",
    "class_normalised_weights",
    "cutflow_markdown",
    "cutflow_table",
    "iter_batches",
    "split_uniforms",
    "write_scored",
    "write_splits",
    "NtupleError",
    "NtupleBlock",
    "Sample",
    "check_tree",
    "iterate_sample",
    "compute_chunk",
    "read_cutflow",
    "read_table",
    "sample_files",
    "table_schema",
    "training_weights",
    "unpack_sample",
    "write_cutflow",
]
