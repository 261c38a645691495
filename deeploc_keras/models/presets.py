"""DeepLoc presets as data: one place maps each preset name to its protocol and metadata.

Explicit arguments to the builders and to :func:`deeploc_keras.training.train.train` override
preset values.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..core.errors import InputError

__all__ = ["DeepLocPreset", "PRESETS", "PRESET_NAMES", "get_preset", "STUDY_LEARNING_RATES", "TTA_MODES",
           "INTENSITIES", "INITIALIZERS"]

#: The learning rates of the study's sweep.
STUDY_LEARNING_RATES = (1e-3, 6e-4, 3e-4, 1e-4, 5e-5)
#: Test-time crop modes (:func:`deeploc_keras.models.deeploc.tta_model`).
TTA_MODES = ("center", "5crop")
#: Intensity rules of :attr:`DeepLocPreset.intensity`.
INTENSITIES = ("stretch", "standardize", "image_standardize")
#: Weight initialisations of :attr:`DeepLocPreset.initializers`.
INITIALIZERS = ("truncated_normal", "keras")


@dataclass(frozen=True)
class DeepLocPreset:
    """A DeepLoc training protocol.

    Attributes
    ----------
    name, description : str
    intensity : {"stretch", "standardize", "image_standardize"}
        ``stretch``: the original per-cell, per-channel 0.1/99.9 percentile stretch with
        the conditional divide; ``standardize``: per-crop per-channel mean 0 / variance 1;
        ``image_standardize``: the study's code, each channel min-max scaled to [0, 1], then
        the crop standardized over all its channels together (``tf.image.per_image_standardization``,
        :class:`~deeploc_keras.models.layers_pifia.ImageStandardize`).
    crop_size : int or None
        Random crop size in training (centre crop at inference); None = no crop.
    crop_offsets : int
        Training crop offsets are drawn from ``range(crop_offsets)`` in rows and columns.
    flips : bool
        Random up-down and left-right flips in training.
    rotations : tuple of int
        Allowed ``k`` of the random rot90 in training.
    padding : {"same", "valid"}
    input_size : int
        Spatial size the network sees (60 after the crop, 64 without).
    dense_batchnorm : bool
        BatchNorm after fc_1, fc_2 and the logits.
    batchnorm_momentum : float
    learning_rate : float
    lr_decay : tuple (decay_steps, decay_rate) or None
        Staircase exponential decay per optimizer step.
    adam_epsilon : float
    batch_size, epochs : int
    early_stopping_patience : int or None
        Epochs without improvement of the validation loss; None = no early stopping.
    lr_sweep : tuple of float
        Rates tried by ``--lr-sweep``.
    tta : {"center", "5crop"}
        Default test-time crops.
    trainable_params_19 : int
        Exact trainable parameters at width 1.0 with 19 classes.
    initializers : {"truncated_normal", "keras"}
        ``truncated_normal``: the original's TruncatedNormal(0.1) kernels and 0.1 biases;
        ``keras``: Keras' defaults (Glorot-uniform kernels, zero biases), as the study's code.
    """

    name: str
    description: str
    intensity: str
    crop_size: int | None
    crop_offsets: int
    flips: bool
    rotations: tuple[int, ...]
    padding: str
    input_size: int
    dense_batchnorm: bool
    batchnorm_momentum: float
    learning_rate: float
    lr_decay: tuple[int, float] | None
    adam_epsilon: float
    batch_size: int
    epochs: int
    early_stopping_patience: int | None
    lr_sweep: tuple[float, ...] = field(default=())
    tta: str = "center"
    trainable_params_19: int = 0
    initializers: str = "truncated_normal"


PRESETS: dict[str, DeepLocPreset] = {
    "kraus2017": DeepLocPreset(
        name="kraus2017",
        description="Original DeepLoc (Kraus et al. 2017): percentile stretch, random 60x60 crop with offsets 0-3, "
                    "flips, rot90 k in {0,1,2}; BatchNorm momentum 0.5; Adam(eps 1e-8) lr 0.1*0.96^floor(step/25); "
                    "batch 128; 5-crop TTA (the original ran 5,000-10,000 steps; the preset trains 30 epochs).",
        intensity="stretch", crop_size=60, crop_offsets=4, flips=True, rotations=(0, 1, 2), padding="same",
        input_size=60, dense_batchnorm=True, batchnorm_momentum=0.5, learning_rate=0.1, lr_decay=(25, 0.96),
        adam_epsilon=1e-8, batch_size=128, epochs=30, early_stopping_patience=None, tta="5crop",
        trainable_params_19=10_991_417,
    ),
    "study": DeepLocPreset(
        name="study",
        description="The seed study's protocol (Razdaibiedina & Brechalov 2022, section 2.2, and its code): the "
                    "DeepLoc network on the whole 64x64 crop (no random crop; SAME padding keeps 8x8 after pool_3), "
                    "per-crop per-channel standardization, random flips and all four 90-degree rotations, "
                    "BatchNorm momentum 0.99 (the Keras default of the study's code); Adam, lr chosen from the sweep "
                    "by the mean validation loss over the seeds, 30 epochs without a cut-off, the checkpoint of "
                    "minimal validation loss kept.",
        intensity="standardize", crop_size=None, crop_offsets=1, flips=True, rotations=(0, 1, 2, 3), padding="same",
        input_size=64, dense_batchnorm=True, batchnorm_momentum=0.99, learning_rate=3e-4, lr_decay=None,
        adam_epsilon=1e-7, batch_size=128, epochs=30, early_stopping_patience=None, lr_sweep=STUDY_LEARNING_RATES,
        tta="center", trainable_params_19=10_991_417,
    ),
    "razdaibiedina2022": DeepLocPreset(
        name="razdaibiedina2022",
        description="The study's network as its code builds it (class 'deep_loc' of "
                    "arazd/protein_representation_learning, models/keras_models.py, and its dataset_utils.py): VALID "
                    "convs and pools on the 64x64 crop without crop, Keras-default BatchNorm (momentum 0.99) and "
                    "initialisers, dense 512 and 512 with ReLU and no BatchNorm, linear logits; each channel min-max "
                    "scaled then the crop standardized over its channels together; random flips only, no rotation; "
                    "Adam, lr chosen from the study's sweep by the mean validation loss over the seeds, 30 epochs, "
                    "the checkpoint of minimal validation loss kept.",
        intensity="image_standardize", crop_size=None, crop_offsets=1, flips=True, rotations=(0,), padding="valid",
        input_size=64, dense_batchnorm=False, batchnorm_momentum=0.99, learning_rate=3e-4, lr_decay=None,
        adam_epsilon=1e-7, batch_size=128, epochs=30, early_stopping_patience=None, lr_sweep=STUDY_LEARNING_RATES,
        tta="center", trainable_params_19=3_125_011, initializers="keras",
    ),
}
PRESET_NAMES = tuple(PRESETS)


def get_preset(name: str) -> DeepLocPreset:
    """Look up a preset by name.

    Parameters
    ----------
    name : str
        One of :data:`PRESET_NAMES`.

    Returns
    -------
    DeepLocPreset

    Raises
    ------
    InputError
        For an unknown name (the message lists the allowed ones).

    Examples
    --------
    >>> get_preset("kraus2017").batch_size
    128
    """
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown preset {name!r}; expected one of {list(PRESET_NAMES)}") from None
