"""Score protein representations against functional standards.

Modules (import them explicitly, e.g. ``from eval import metrics``; the package
shares its name with a Python builtin, so never rely on ``eval`` itself):

- :mod:`eval.standards`: read, build, write and restrict functional standards
  (group -> set of protein ids).
- :mod:`eval.metrics`: the study's metrics as vectorized numpy kernels (pooled
  average precision, per-protein mean average precision, F-beta, AMI, the within-class variants).
- :mod:`eval.nulls`: each metric's null: the same metric on permuted profiles (within a class for the
  within metrics).
- :mod:`eval.significance`: bootstrap intervals over proteins, paired tests, FDR.
- :mod:`eval.evaluation`: one representation on one standard, what the metrics share computed once.
- :mod:`eval.catalog`: the metrics, each declared once (kernel, label, definition, resampling, null, test).
- :mod:`eval.retrieval`: per-group mAP with copairs' permutation p-values and FDR.
- :mod:`eval.score`: score one or several representations, test methods against baselines; tables and logging.
- :mod:`eval.plots`: the study's figures (summary bars, t-SNE, training monitor).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

__all__: list[str] = []
