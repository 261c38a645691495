"""What the study's figures show: the Figure 1 metrics and the metric axis labels.

A light module (no matplotlib), so tables and reports can share the figures'
vocabulary without loading a plotting library.

Examples
--------
>>> FIGURE1_METRICS
('average_precision', 'ami', 'f_beta')
>>> METRIC_LABELS["ami"]
'AMI'
"""

from __future__ import annotations

__all__ = ["FIGURE1_METRICS", "METRIC_LABELS"]

#: metrics shown in Figure 1, in panel order
FIGURE1_METRICS = ("average_precision", "ami", "f_beta")
#: axis labels of the metrics
METRIC_LABELS = {
    "average_precision": "AP (pooled pairs)",
    "mean_average_precision": "mAP (per protein)",
    "ami": "AMI",
    "f_beta": "F0.5 (max over thresholds)",
    "f_beta_clusters": "F0.5 (AMI clustering)",
    "average_precision_within": "AP within compartment",
    "mean_average_precision_within": "mAP within compartment",
}
