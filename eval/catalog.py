"""The metrics of scoring, each declared once: kernel, label, definition, resampling, null and test.

A :class:`Metric` says everything scoring, the figures, training's monitor and the report
need to know about one metric; :data:`METRICS` is the closed vocabulary, in table order.
Adding a metric means adding one record (and its kernel in :mod:`eval.metrics` if it is new).
The record's functions read the shared computations of one representation on one standard
from an :class:`eval.evaluation.Evaluation`.

Examples
--------
>>> METRIC_NAMES[:4]
('average_precision', 'mean_average_precision', 'ami', 'f_beta')
>>> FIGURE1_METRICS, MONITOR_METRICS
(('average_precision', 'ami', 'f_beta'), ('average_precision', 'f_beta'))
>>> METRICS["ami"].label, METRICS["ami"].sampled
('AMI', True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

from eval import metrics as _metrics
from eval import nulls as _nulls
from eval import significance as _significance
from eval.evaluation import Evaluation

__all__ = ["Metric", "METRICS", "METRIC_NAMES", "FIGURE1_METRICS", "MONITOR_METRICS", "PERMUTED_PROFILES",
           "WITHIN_CLASS"]

#: The permuted-profile null, as the report states it.
PERMUTED_PROFILES = ("permuted profiles: each protein takes the profile of another protein of the universe "
                     "(a uniformly random permutation), the standard unchanged; the metric computed the same way")
#: The within-class null, as the report states it.
WITHIN_CLASS = ("within-class permutation: in each localization class, each protein takes the profile of another "
                "protein of the same class; each class's value against its own null, averaged over the classes")


@dataclass(frozen=True)
class Metric:
    """One metric of scoring.

    Attributes
    ----------
    name : str
        The value of ``metrics=`` and ``--metric``; the ``metric`` column of the tables.
    label : str
        Axis and table label.
    definition : str
        One sentence, as the report and docs state it.
    compute : callable (Evaluation) -> float or eval.metrics.SampledScore
        The value (a SampledScore for a metric computed on AMI's module samples).
    resampled : callable (Evaluation) -> numpy.ndarray, optional
        The value on each bootstrap resample of the proteins (intervals and paired tests);
        None for a metric without one.
    null : callable (Evaluation) -> numpy.ndarray, optional
        The value on each draw of its null (the measured chance and the test against it).
    null_definition : str
        What the null is, as the report states it beside the tables.
    sampled : bool
        Computed on AMI's seeded module samples: mean ± sd over samples, paired across
        representations by sample (:func:`eval.significance.sign_flip_p_value`).
    within : bool
        Scores each localization class on its own (needs localization classes).
    tested : bool
        Compared with the baselines (paired bootstrap, or sign flip for a sampled metric) and counted
        in the report's claims.
    null_tested : bool
        A method's value is also tested against its null (permutation p-value) as one of the claims:
        where chance is far from what a naive reading suggests (AMI's best cut of random profiles is
        above 0).
    figure : bool
        A panel of Figure 1.
    monitor : bool
        Scored on the test cells after every epoch by training's ``--monitor``.
    """

    name: str
    label: str
    definition: str
    compute: Callable[[Evaluation], float | _metrics.SampledScore]
    resampled: Callable[[Evaluation], np.ndarray] | None = None
    null: Callable[[Evaluation], np.ndarray] | None = None
    null_definition: str = "none"
    sampled: bool = False
    within: bool = False
    tested: bool = True
    null_tested: bool = False
    figure: bool = False
    monitor: bool = False


def _class_pooled(part: _metrics.Ranking, weights: np.ndarray) -> np.ndarray:
    return _significance.bootstrap_pooled(part.features, part.membership, weights, ranking=part)[0]


def _class_mean(part: _metrics.Ranking, weights: np.ndarray) -> np.ndarray:
    return _significance.bootstrap_mean(part.protein_ap, weights)


def _class_null_ap(part: _metrics.Ranking, perm: np.ndarray) -> np.ndarray:
    return _nulls.null_pooled(part, perm)[0]


_RECORDS = (
    Metric(
        "average_precision", "AP (pooled pairs)",
        "AP: every pair of proteins in the standard's universe (proteins in at least one group) ranked by the "
        "Pearson correlation of their profiles; a pair is positive when the two share a group; step-wise average "
        "precision of that one pooled ranking (BIONIC's co-annotation AP).",
        compute=lambda e: _metrics.average_precision(e.features, e.membership, ranking=e.ranking),
        resampled=lambda e: e.pooled_bootstrap[0], null=lambda e: e.pooled_null[0],
        null_definition=PERMUTED_PROFILES, figure=True, monitor=True),
    Metric(
        "mean_average_precision", "mAP (per protein)",
        "mAP: each protein ranks all others by correlation; the AP of that ranking (positives: proteins sharing a "
        "group with it), averaged over proteins with a positive (copairs' per-profile mAP).",
        compute=lambda e: _metrics.mean_average_precision(e.features, e.membership, ranking=e.ranking),
        resampled=lambda e: _significance.bootstrap_mean(e.ranking.protein_ap, e.weights),
        null=lambda e: e.protein_null, null_definition=PERMUTED_PROFILES),
    Metric(
        "ami", "AMI",
        "AMI: BIONIC's module detection; hierarchical clusterings of the profiles cut at many thresholds, the best "
        "adjusted mutual information with a sample of non-overlapping groups, mean (sd) over 10 samples.",
        compute=lambda e: e.search, null=lambda e: e.search.null,
        null_definition="permuted profiles within each module sample: the profiles shuffled among the sample's "
                        "proteins and the best cut searched again as BIONIC searches it",
        sampled=True, null_tested=True, figure=True),
    Metric(
        "f_beta", "F0.5 (max over thresholds)",
        "F0.5: the maximum over correlation thresholds of the F-score with beta 0.5 (precision weighted over "
        "recall) on the pooled pairs.",
        compute=lambda e: _metrics.f_beta(e.features, e.membership, ranking=e.ranking),
        resampled=lambda e: e.pooled_bootstrap[1], null=lambda e: e.pooled_null[1],
        null_definition=PERMUTED_PROFILES, figure=True, monitor=True),
    Metric(
        "f_beta_clusters", "F0.5 (AMI clustering)",
        "F0.5 of the AMI clustering: pair-counting F-score (beta 0.5) of the clustering AMI chose in each module "
        "sample (same cluster = predicted positive; sharing any group = positive), mean (sd) over samples.",
        compute=lambda e: _metrics.f_beta_clusters(e.features, e.membership, clusterings=e.search.clusterings),
        sampled=True, tested=False),
    Metric(
        "average_precision_within", "AP within compartment",
        "AP within compartment: per localization class, the pooled AP of the pairs of proteins of that class (a "
        "pair sharing a group is positive), averaged over the classes with a positive pair: what a representation "
        "says about function beyond localization.",
        compute=lambda e: _metrics.average_precision_within(e.features, e.membership, e.strata, ranking=e.ranking),
        resampled=lambda e: e.class_resampled(_class_pooled), null=lambda e: e.class_null(_class_null_ap),
        null_definition=WITHIN_CLASS, within=True),
    Metric(
        "mean_average_precision_within", "mAP within compartment",
        "mAP within compartment: per localization class, each protein ranks the other proteins of its class; the "
        "class's mAP, averaged over the classes.",
        compute=lambda e: _metrics.mean_average_precision_within(e.features, e.membership, e.strata,
                                                                 ranking=e.ranking),
        resampled=lambda e: e.class_resampled(_class_mean),
        null=lambda e: e.class_null(_nulls.null_protein_average_precision),
        null_definition=WITHIN_CLASS, within=True),
)

#: metric name -> record: the closed vocabulary of scoring, in table order
METRICS: MappingProxyType[str, Metric] = MappingProxyType({record.name: record for record in _RECORDS})
#: the metric names, in table order (shared with the CLI)
METRIC_NAMES = tuple(METRICS)
#: the panels of Figure 1, in order
FIGURE1_METRICS = tuple(name for name, record in METRICS.items() if record.figure)
#: what training's ``--monitor`` scores after every epoch
MONITOR_METRICS = tuple(name for name, record in METRICS.items() if record.monitor)

