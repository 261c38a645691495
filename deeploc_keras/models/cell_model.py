"""A Keras functional model that says what it is: :class:`CellModel` and its :attr:`~CellModel.info`.

Every model :func:`~deeploc_keras.models.deeploc.build_deeploc` and
:func:`~deeploc_keras.models.pci.build_pci` return is a ``CellModel``: a plain Keras
functional model (same layers, same ``fit``/``predict``/``save``) whose config carries a
small ``info`` dict -- method, preset, width, class names, channel names, image shape --
saved inside the ``.keras`` file and restored by ``keras.saving.load_model``
(keras-hub style). :func:`deeploc_keras.models.info.read_model_info` reads it back without
loading TensorFlow.

Examples
--------
>>> import keras
>>> inputs = keras.Input((3,))
>>> model = CellModel(inputs, keras.layers.Dense(2)(inputs), info={"method": "demo"})
>>> model.info["method"], model.get_config()["info"]["method"]
('demo', 'demo')
"""

from __future__ import annotations

from typing import Any

import keras

__all__ = ["CellModel"]


@keras.saving.register_keras_serializable(package="deeploc_keras")
class CellModel(keras.Model):
    """A functional Keras model with a JSON-serializable ``info`` dict in its config.

    Parameters
    ----------
    inputs, outputs
        As for ``keras.Model(inputs, outputs)``.
    name : str, optional
    info : dict, optional
        JSON-serializable description of the model (keys of
        :data:`deeploc_keras.models.info.INFO_KEYS`); saved with the model.
    **kwargs
        Passed to ``keras.Model``.
    """

    def __init__(self, inputs: Any, outputs: Any, name: str | None = None, *, info: dict[str, Any] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(inputs, outputs, name=name, **kwargs)
        self.info = dict(info or {})

    def get_config(self) -> dict[str, Any]:
        """The functional config plus ``info``."""
        return {**super().get_config(), "info": dict(self.info)}
