"""Datasets of one kind side by side (hepml.compare): rows joined by model name."""

import numpy as np
import pandas as pd
import pytest
from hepml.compare import comparison_table


def table(rows):
    return pd.DataFrame(rows, columns=["name", "auc", "auc_low", "auc_high", "paper_auc"])


def test_rows_are_joined_by_name_with_differences_and_their_errors():
    first = table([["hl", 0.90, 0.88, 0.92, 0.9446], ["et", 0.95, 0.94, 0.96, 0.9176]])
    second = table([["hl", 0.85, 0.82, 0.88, 0.9446], ["mass", 0.70, 0.69, 0.71, None]])
    joined = comparison_table({"sim": first, "published": second}).set_index("name")
    assert list(joined.index) == ["hl", "et", "mass"]
    assert joined.loc["hl", "delta_published"] == pytest.approx(-0.05)
    # half-widths 0.02 and 0.03 in quadrature
    assert joined.loc["hl", "delta_error_published"] == pytest.approx(np.hypot(0.02, 0.03))
    assert np.isnan(joined.loc["et", "auc_published"]) and np.isnan(joined.loc["mass", "auc_sim"])
    assert np.isnan(joined.loc["et", "delta_published"])
    assert joined.loc["et", "paper_auc"] == 0.9176 and np.isnan(joined.loc["mass", "paper_auc"])
    assert "delta_sim" not in joined  # the first dataset is the reference


def test_a_collapsed_model_leaves_empty_cells_not_zeros():
    first = table([["hl", None, None, None, None]])
    second = table([["hl", 0.8, 0.79, 0.81, None]])
    joined = comparison_table({"a": first, "b": second})
    assert np.isnan(joined.loc[0, "auc_a"]) and np.isnan(joined.loc[0, "delta_b"])


def test_one_table_or_a_missing_column_is_refused():
    with pytest.raises(ValueError, match="at least two"):
        comparison_table({"only": table([["hl", 0.9, 0.8, 1.0, None]])})
    bad = pd.DataFrame({"name": ["hl"], "auc": [0.9]})
    with pytest.raises(ValueError, match="auc_low"):
        comparison_table({"a": bad, "b": bad})
