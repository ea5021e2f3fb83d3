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
of files, before preselection; a seeded split can key on it).  Splitting into train / valid /
test is the job of the reader of these tables, not of this module.

How training handles negative weights is the block's ``negative_weights`` option, applied by
:func:`training_weights` (default ``absolute``; docs/ntuples.md "Weights").
"""

from __future__ import annotations

import csv
import glob
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from hepml.expressions import Expression, ExpressionError, Jagged, is_per_object, parse
from hepml.settings import CONFIG_KEY, SettingsError, reject_unknown_keys

log = logging.getLogger(__name__)

ROLES = ("signal", "background", "data")
LABELS = {"signal": 1, "background": 0, "data": None}
NEGATIVE_WEIGHTS = ("absolute", "keep", "drop")
DEFAULT_STEP = 100_000
RESERVED = ("weight", "label", "sample", "process", "entry")
CUTFLOW_FIELDS = ("sample", "process", "role", "cut", "events", "sum_w", "sum_w2")
ALL_EVENTS = "all"


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

    Not yet a registered settings section (hepml.settings.CONFIG_SECTIONS): the block is a
    proposed schema entry ($defs/ntuples) that no dataset references until the ntuple source is
    wired into the tabular kind (issue 21); its keys are then to be checked field for field like
    every other block (tests/test_settings_schema.py)."""

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
    # The built-in ntuples' generator block (docs/ntuples.md "Built-in ntuples"), as given: a
    # settings section of its own (NtupleGenSettings in hepml.sources.pythia.higgs_ntuples, a
    # domain module, checks it when the DAG is built), so no config key of this class.
    generate: Mapping | None = field(default=None, metadata={CONFIG_KEY: None})

    @classmethod
    def from_config(cls, block: Mapping, where: str = "ntuples") -> NtupleBlock:
        allowed = (
            "path tree weight constants samples define preselection variables spectators "
            "step_size negative_weights generate"
        ).split()
        reject_unknown_keys(block, allowed, where)
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
def table_schema(settings: NtupleBlock) -> pa.Schema:
    """The Arrow schema of every sample table (module docstring)."""
    return pa.schema(
        [pa.field(name, pa.float32()) for name in settings.columns]
        + [
            pa.field("weight", pa.float64()),
            pa.field("label", pa.int8()),
            pa.field("sample", pa.string()),
            pa.field("process", pa.string()),
            pa.field("entry", pa.int64()),
        ],
        metadata={"columns": ",".join(settings.columns)},
    )


def _batch(settings, sample, values: Mapping, entries: np.ndarray) -> pa.RecordBatch:
    size = len(entries)
    label = sample.label
    arrays = [pa.array(values[name].astype(np.float32)) for name in settings.columns] + [
        pa.array(values["weight"], pa.float64()),
        pa.nulls(size, pa.int8()) if label is None else pa.array(np.full(size, label, np.int8)),
        pa.array([sample.name] * size, pa.string()),
        pa.array([sample.process] * size, pa.string()),
        pa.array(entries, pa.int64()),
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=table_schema(settings))


def unpack_sample(
    settings: NtupleBlock, name: str, output: str | os.PathLike, root=None
) -> Cutflow:
    """Read sample ``name`` in steps and write its table to ``output`` (module docstring);
    returns its cut-flow.  ``root``: the directory of the sample globs (default: the block's
    ``path``, else the working directory).  Nothing is left at ``output`` on failure."""
    sample = settings.sample(name)
    files = sample_files(sample, settings.path if root is None else root)
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
            pa.ipc.new_file(sink, table_schema(settings)) as writer,
        ):
            for arrays in iterate_sample(settings, sample, files):
                length = len(next(iter(arrays.values()))) if arrays else 0
                try:
                    values = compute_chunk(settings, sample, arrays, cutflow)
                except ExpressionError as error:
                    raise NtupleError(str(error)) from None
                writer.write_batch(_batch(settings, sample, values, start + values["entry"]))
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


__all__ = [
    "Cutflow",
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
