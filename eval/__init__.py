"""Score protein representations against functional standards.

Modules (import them explicitly, e.g. ``from eval import metrics``; the package
shares its name with a Python builtin, so never rely on ``eval`` itself):

- :mod:`eval.standards`: read, build, write and restrict functional standards
  (group -> set of protein ids).
- :mod:`eval.metrics`: the study's metrics as vectorized numpy kernels (pooled
  average precision, per-protein mean average precision, F-beta, AMI).
- :mod:`eval.significance`: bootstrap intervals over proteins, paired comparisons, FDR.
- :mod:`eval.retrieval`: per-group mAP with copairs' permutation p-values and FDR.
- :mod:`eval.score`: score one or several representations; tables and logging.
- :mod:`eval.figures`: what the figures show (Figure 1 metrics, metric labels; no matplotlib).
- :mod:`eval.plots`: the study's figures (summary bars, t-SNE, training monitor).

Nothing here imports TensorFlow.
"""

from __future__ import annotations

__all__: list[str] = []
