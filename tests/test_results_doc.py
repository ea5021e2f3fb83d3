"""The results document (rule write_results): every table copied from the run's files, the
stamp of code and configuration, figures linked only where they exist."""

import hashlib
import json
import subprocess
from pathlib import Path

from hepml import io
from hepml.steps import evaluate

SETTINGS = {
    "datasets": [["electrons", "electrons"], ["jets", "jets"]],
    "config": {"seed": 20211, "datasets": {"electrons": {"kind": "electrons"}}},
}


def write_run(root: Path) -> tuple[list[Path], list[Path]]:
    """A results/ folder with an AUC table per dataset, a top-tagging table, a scan table and
    one figure."""
    tables = {
        "electrons/summary/auc_table.md": "| name | auc |\n|---|---|\n| hl | 0.9280 |\n",
        "jets/summary/auc_table.md": "| name | auc |\n|---|---|\n| images | 0.9824 |\n",
        "jets/summary/top_tagging.md": "| model | AUC |\n|---|---|\n| CNN | 0.9824 |\n",
        "electrons/guided/hl/table.md": (
            "| pass | efp | auc |\n|---|---|---|\n| 0 |  | 0.9321 |\n"
            "| 1 | et_efp_4_4_4_k_1_b_0.5 | 0.9540 |\n| 2 | et_efp_2_1_0_k_2_b_0.5 | 0.9629 |\n"
        ),
    }
    for path, text in tables.items():
        io.write_text(root / path, text)
    figure = root / "electrons" / "summary" / "roc.svg"
    io.write_text(figure, "<svg/>")
    return [root / path for path in tables], [figure]


def test_every_table_is_copied_under_its_dataset_with_the_stamp(tmp_path):
    results = tmp_path / "results"
    tables, figures = write_run(results)
    document = results / "results.md"
    text = evaluate.write_results(
        {"tables": tables, "figures": figures},
        {"document": document},
        {"settings": SETTINGS},
        code_directory=tmp_path,  # not a git checkout
    )
    assert document.read_text() == text
    for path in tables:  # each table verbatim, under its own dataset's heading
        assert path.read_text().strip() in text
    electrons, jets = text.index("## electrons"), text.index("## jets")
    assert electrons < text.index("0.9280") < text.index("et_efp_4_4_4") < jets
    # each pick of the scan is described from its own name, in pass order
    first = text.index("- pass 1: `et_efp_4_4_4_k_1_b_0.5` (ECal, graph 4_4_4)")
    assert first < text.index("- pass 2: `et_efp_2_1_0_k_2_b_0.5`") < jets
    assert "- pass 0" not in text
    assert jets < text.index("0.9824")
    assert "### Guided search, scan `hl`" in text
    digest = hashlib.sha256(json.dumps(SETTINGS["config"], indent=1, sort_keys=True).encode())
    assert f"sha256 `{digest.hexdigest()[:16]}`" in text
    assert '"seed": 20211' in text.split("## The resolved configuration")[1]
    assert "unknown (not a git checkout)" in text
    assert "- ROC curves: `results/electrons/summary/roc.svg`" in text
    assert "rejection.svg" not in text  # not written, so not linked


def test_the_stamp_names_the_commit_and_uncommitted_changes(tmp_path):
    def git(*arguments):
        subprocess.run(["git", "-C", str(tmp_path), *arguments], check=True, capture_output=True)

    git("init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    git("add", "code.py")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "c")
    commit = subprocess.run(
        ["git", "-C", str(tmp_path), "rev-parse", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    assert evaluate.code_version(tmp_path) == commit
    (tmp_path / "code.py").write_text("x = 2\n")
    assert evaluate.code_version(tmp_path) == commit + " + uncommitted changes"


def test_an_efp_is_described_from_its_graph_and_exponents():
    ring = evaluate.efp_meaning("et_efp_4_4_4_k_1_b_0.5")
    assert "4-point correlator with 4 angular factors theta^0.5" in ring
    assert "IRC safe" in ring and "near and far" in ring
    hard = evaluate.efp_meaning("ht_efp_2_1_0_k_2_b_2")
    assert "HCal" in hard and "hardest cells" in hard and "widest" in hard
    assert "no angle" in evaluate.efp_meaning("et_efp_1_0_0_k_0_b_1")
    assert "multiplicity" in evaluate.efp_meaning("et_efp_1_0_0_k_0_b_1")


def test_chosen_efps_reads_the_passes_that_added_one():
    table = "| pass | efp |\n|---|---|\n| 0 |  |\n| 1 | et_efp_2_1_0_k_1_b_1 |\n"
    assert evaluate.chosen_efps(table) == [(1, "et_efp_2_1_0_k_1_b_1")]
    assert evaluate.chosen_efps("no table here") == []
