"""Figures from evaluation tables (PNG, written atomically); they know nothing of training."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from riskcast.atomic import atomic_path

__all__ = ["reliability_figure"]


def reliability_figure(reliability: pd.DataFrame, path: str | Path, models: list[str] | None = None) -> Path:
    """Reliability diagram per horizon: observed attack rate against mean forecast per bin.

    ``reliability``: columns model, horizon, p_mean, y_rate, n (see
    ``riskcast.evaluation.calibration_metrics.reliability_table``). Empty bins are skipped.
    """
    # local: pyplot costs ~0.3 s and jobs.run imports this module for every stage; only the
    # report stage draws
    import matplotlib

    matplotlib.use("Agg")  # files only: never open a window, never need a display
    import matplotlib.pyplot as plt

    path = Path(path)
    rel = reliability[reliability["n"] > 0]
    horizons = sorted(rel["horizon"].unique())
    models = models or sorted(rel["model"].unique())
    fig, axes = plt.subplots(
        1, max(len(horizons), 1), figsize=(3.2 * max(len(horizons), 1), 3.4), squeeze=False, sharey=True
    )
    for ax, h in zip(axes[0], horizons):
        ax.plot([0, 1], [0, 1], color="#999", lw=0.8, ls="--")
        for m in models:
            g = rel[(rel["horizon"] == h) & (rel["model"] == m)]
            if len(g):
                ax.plot(g["p_mean"], g["y_rate"], marker="o", ms=3, lw=1, label=m)
        ax.set_title(f"h = {h} month{'s' if h > 1 else ''}")
        ax.set_xlabel("forecast probability")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("observed share with an attack")
    axes[0][-1].legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        # metadata pinned so the same table gives the same bytes
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    return path
