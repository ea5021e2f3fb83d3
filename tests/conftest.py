"""Test configuration: the library lives in scripts/leptonid, importable with no install step."""

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
