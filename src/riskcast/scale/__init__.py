"""Where the heavy work runs, behind one interface (:class:`~riskcast.scale.backend.Backend`):
build features, run the backtest's tasks, fit the final model, score a month.
:func:`backend_for` chooses once from the config's ``[compute]`` section; the stages call the
backend and never ask which one it is.

* :class:`~riskcast.scale.local.LocalBackend` -- this process and joblib workers (the default).
* :class:`~riskcast.scale.dask.DaskBackend` -- a Dask cluster (``compute.backend = "dask"``),
  with the same numbers: features in spatial blocks with halos (``dask_features``), backtest
  tasks on the cluster and the LightGBM hurdle by ``lightgbm.dask`` (``dask_models``),
  LightGBM trained from block files (``dask_blocks``), scoring mapped over partitions.
"""

from __future__ import annotations

from riskcast.extras import require_extra
from riskcast.models import baselines
from riskcast.models.gbm import LGBMHurdle
from riskcast.scale.backend import Backend
from riskcast.scale.local import LocalBackend

__all__ = ["Backend", "LocalBackend", "backend_for", "fits_on_blocks"]


def fits_on_blocks(model) -> bool:
    """Whether ``model`` is fitted without the whole panel in one process: a baseline (it reads
    one to three columns, gathered), or the LightGBM hurdle (trained on the workers from the
    block files, ``riskcast.scale.block_hurdle``)."""
    return type(model).__module__ == baselines.__name__ or type(model) is LGBMHurdle


def backend_for(compute, n_jobs: int = -1) -> Backend:
    """The backend ``compute`` (the config's ``[compute]`` section) names; ``n_jobs`` for the local one."""
    if compute.backend == "dask":
        require_extra("dask", key="compute.backend", alternative='set compute.backend = "local"')
        # local: Dask is the optional 'dask' extra (and dask.dataframe, distributed and lightgbm.dask
        # add ~0.4 s); imported only when compute.backend = "dask"
        from riskcast.scale.dask import DaskBackend

        return DaskBackend(compute)
    return LocalBackend(n_jobs)
