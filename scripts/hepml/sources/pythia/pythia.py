"""Pythia 8 (``pythia8mc``) set-up and the stable particles of an event as flat arrays.

Every generator of a chunk gets its own seed, derived from (config seed, chunk, stream) by
:func:`pythia_seed`, so the same configuration makes the same events.  The commands every
generator shares are in :data:`COMMON_COMMANDS`; the process commands come from the config
(``datasets.<name>.generate``, docs/generator.md).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields

import numpy as np

from hepml.settings import dataclass_from_config

log = logging.getLogger(__name__)
PROGRESS_SECONDS = 10.0  # a progress line in the rule's log at most this often

# Pythia's seed range: Random:seed takes 0 ... 900,000,000 (Pythia 8 manual, "Random Numbers").
_MAX_PYTHIA_SEED = 900_000_000
ZPRIME_ID = 32  # Pythia's Z'0 (PDG Monte Carlo numbering scheme)

COMMON_COMMANDS = (
    "Print:quiet = on",
    "Next:numberCount = 0",
    # Particles with c tau > 10 mm are left undecayed (Pythia 8 manual, "Particle Decays"):
    # K0S and Lambda then reach the calorimeter, as the Delphes card's energy fractions for
    # 310 and 3122 assume.
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10",
)


# Keys of a generate block that the rules read (the chunking), not the generators' settings.
GENERATE_PASSED_APART = ("n_events", "chunks")


@dataclass(frozen=True)
class PythiaSettings:
    """The keys every Pythia 8 generator shares (``datasets.<name>.generate``; config/schema.yaml
    ``$defs/generate_<kind>``, docs/generator.md), extended by each kind's class
    (``electrons.ElectronGenSettings``, ``muons.MuonGenSettings``, ``jets.TopGenSettings``),
    which redeclares the defaults of its own process (sqrt(s), commands).

    ecm_gev: collision energy; signal_commands, background_commands: Pythia 8 settings strings
    per class; signal_fraction: share of signal candidates; smear: the calorimeter response.
    """

    ecm_gev: float = 13000.0
    signal_commands: tuple[str, ...] = ()
    background_commands: tuple[str, ...] = ()
    signal_fraction: float = 0.5
    smear: bool = True

    def __post_init__(self) -> None:
        if not 0 < self.signal_fraction < 1:
            raise ValueError("generate.signal_fraction: expected 0 < fraction < 1")
        if self.ecm_gev <= 0:
            raise ValueError("generate.ecm_gev: expected > 0")

    @classmethod
    def from_config(cls, config: Mapping[str, object]):
        """Settings from the config block; n_events and chunks are ignored (passed apart),
        lists become tuples. Unknown keys raise ValueError naming the key."""
        return dataclass_from_config(cls, config, "generate", ignore=GENERATE_PASSED_APART)


def pythia_seed(seed: int, chunk: int, stream: int) -> int:
    """A Pythia seed in [1, 900,000,000] for one generator: (config seed, chunk, stream)."""
    state = np.random.SeedSequence([int(seed), int(chunk), int(stream)]).generate_state(1)[0]
    return int(state % _MAX_PYTHIA_SEED) + 1


def start_pythia(commands: Sequence[str], seed: int, ecm_gev: float):
    """An initialised, seeded Pythia for the given process commands (quiet).

    Raises ValueError naming a command Pythia does not understand, RuntimeError when the
    initialisation fails.
    """
    import pythia8mc  # imported here: only the generate rules need it

    pythia = pythia8mc.Pythia("", False)
    setup = [
        f"Beams:eCM = {float(ecm_gev)}",
        "Random:setSeed = on",
        f"Random:seed = {int(seed)}",
        *COMMON_COMMANDS,
        *commands,
    ]
    for command in setup:
        if not pythia.readString(command):
            raise ValueError(f"Pythia does not accept the command {command!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia initialisation failed for commands {list(commands)}")
    return pythia


def select_events(
    pythia,
    n_wanted: int,
    select: Callable[[object], object | None],
    max_events_per_pick: int,
    what: str,
    hint: str,
) -> list:
    """Generate events until ``select(pythia)`` has returned n_wanted results other than None
    (the candidates of one class of a chunk), in order; progress goes to the log.

    select sees the generator after a successful ``pythia.next()`` (its ``event`` and
    ``process`` records) and returns the candidate or None to skip the event. After
    ``max_events_per_pick x n_wanted`` events a RuntimeError says how many were found (what
    names them, e.g. "chunk 3 signal candidates"; hint says what to check).
    """
    picked: list = []
    tried = 0
    started = last = time.perf_counter()
    while len(picked) < n_wanted:
        if tried >= max_events_per_pick * n_wanted:
            raise RuntimeError(
                f"{what}: only {len(picked)} of {n_wanted} after {tried} events; {hint}"
            )
        tried += 1
        if not pythia.next():
            continue
        result = select(pythia)
        if result is None:
            continue
        picked.append(result)
        now = time.perf_counter()
        if now - last > PROGRESS_SECONDS or len(picked) == n_wanted:
            last = now
            log.info(
                "%s: %d/%d from %d events, %.1f s (%.1f events/s)",
                what, len(picked), n_wanted, tried, now - started,
                tried / max(now - started, 1e-9),
            )  # fmt: skip
    return picked


@dataclass
class Particles:
    """Stable particles, all arrays (n,): PDG id, charge (units of e), momentum and energy in
    GeV; ``event``: index of the event (or pile-up vertex) each belongs to."""

    pid: np.ndarray
    charge: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    event: np.ndarray

    def __len__(self) -> int:
        return len(self.pid)

    @property
    def pt(self) -> np.ndarray:
        return np.hypot(self.px, self.py)

    @property
    def eta(self) -> np.ndarray:
        """Pseudorapidity of the momentum; +-inf along the beam."""
        with np.errstate(divide="ignore"):
            return np.arcsinh(self.pz / self.pt)

    @property
    def phi(self) -> np.ndarray:
        return np.arctan2(self.py, self.px)

    def take(self, index: np.ndarray) -> Particles:
        """The particles at ``index`` (an integer or boolean array)."""
        return Particles(*(getattr(self, f.name)[index] for f in fields(Particles)))

    def rotated(self, dphi: np.ndarray) -> Particles:
        """The particles rotated about the beam axis by dphi (per particle, radians)."""
        cos, sin = np.cos(dphi), np.sin(dphi)
        px = cos * self.px - sin * self.py
        py = sin * self.px + cos * self.py
        return Particles(self.pid, self.charge, px, py, self.pz, self.e, self.event)

    @staticmethod
    def concat(parts: Sequence[Particles]) -> Particles:
        return Particles(
            *(np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(Particles))
        )

    @staticmethod
    def empty() -> Particles:
        return Particles(
            *(np.zeros(0, dtype=int if f.name in ("pid", "event") else float)
              for f in fields(Particles))
        )  # fmt: skip


def final_state(event, event_index: int = 0) -> tuple[Particles, np.ndarray]:
    """The stable (final-state) particles of a Pythia event record.

    Returns the particles and (n,) their indices in the record (for :func:`origin`).
    """
    rows = [
        (p.index(), p.id(), p.charge(), p.px(), p.py(), p.pz(), p.e()) for p in event if p.isFinal()
    ]
    table = np.array(rows, dtype=np.float64).reshape(-1, 7)
    particles = Particles(
        pid=table[:, 1].astype(np.int64),
        charge=table[:, 2],
        px=table[:, 3],
        py=table[:, 4],
        pz=table[:, 5],
        e=table[:, 6],
        event=np.full(len(table), event_index, dtype=np.int64),
    )
    return particles, table[:, 0].astype(np.int64)


def is_heavy_flavour_hadron(pid: int) -> bool:
    """A hadron with a b or c valence quark (PDG numbering: the quark digits of |id|)."""
    code = abs(int(pid)) % 10_000
    if code < 100:
        return False
    digits = (code // 1000 % 10, code // 100 % 10, code // 10 % 10)
    # Mesons: digits (0, q1, q2); baryons: (q1, q2, q3).
    quarks = digits[1:] if digits[0] == 0 else digits
    return any(q in (4, 5) for q in quarks)


def origin(event, index: int) -> str:
    """Where the particle at ``index`` of the record came from, walking up its first mothers:
    'zprime' (a Z' in the chain before any hadron), 'heavy_flavour' (a b- or c-hadron decay),
    'hadron' (another hadron decay) or 'other' (e.g. the beams)."""
    current = int(event[index].mother1())
    while current > 0:
        pid = int(event[current].id())
        if abs(pid) == ZPRIME_ID:
            return "zprime"
        if is_heavy_flavour_hadron(pid):
            return "heavy_flavour"
        if abs(pid) > 100 and event[current].isHadron():
            return "hadron"
        current = int(event[current].mother1())
    return "other"
