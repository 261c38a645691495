"""One compiled model that the runs of a learning-rate sweep train in turn.

Keras traces a model's train and test steps (and with XLA compiles them) once per model
object: on two CPU cores that is ~18 s before the first step of every run, longer than an
epoch of the ``cpu`` preset. The runs of a sweep differ only in their seed and learning rate,
and both live in variables (the initial weights, the augmentation's random state, the
optimizer's rate), so every run can train the first run's compiled model from its own
initial state. Each run still builds and compiles its own model — its initializers and
augmentation seeded by its seed, its configuration its own — and that model's state is
loaded into the shared one before training and copied back before each checkpoint, so what
is saved is the run's own model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

__all__ = ["SweepModel", "copy_state"]


def _state(model: keras.Model) -> list:
    """The model's variables then its optimizer's (iterations, learning rate, moments, loss scale)."""
    optimizer = getattr(model, "optimizer", None)
    return [*model.variables, *(optimizer.variables if optimizer is not None else [])]


def copy_state(source: keras.Model, target: keras.Model) -> None:
    """Assign every variable of ``source`` and its optimizer to the same variable of ``target``.

    Parameters
    ----------
    source, target : keras.Model
        Compiled models of one architecture, built the same way (variables in the same order,
        with the same paths and shapes).

    Raises
    ------
    ValueError
        If the two models' variables do not correspond (a bug: they are not built alike).
    """
    if source is target:
        return
    sources, targets = _state(source), _state(target)
    if len(sources) != len(targets) or any(a.path != b.path or tuple(a.shape) != tuple(b.shape)
                                           for a, b in zip(sources, targets, strict=True)):
        raise ValueError(f"models {source.name!r} and {target.name!r} do not have the same variables")
    for a, b in zip(sources, targets, strict=True):
        b.assign(a)


class SweepModel:
    """The compiled model shared by the runs of one sweep (the first run's).

    Examples
    --------
    >>> import keras, numpy as np
    >>> def build(seed):
    ...     keras.backend.clear_session()
    ...     keras.utils.set_random_seed(seed)
    ...     model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    ...     model.compile(optimizer="adam", loss="mse")
    ...     return model
    >>> shared = SweepModel()
    >>> first = shared.adopt(build(0))
    >>> second = build(1)
    >>> trained = shared.adopt(second)
    >>> trained is first, bool(np.array_equal(trained.layers[0].kernel.numpy(), second.layers[0].kernel.numpy()))
    (True, True)
    """

    def __init__(self) -> None:
        self._model: keras.Model | None = None

    def adopt(self, model: keras.Model) -> keras.Model:
        """The model to train for a run whose own freshly compiled model is ``model``.

        The first run trains its own model; every later run trains the first one, loaded with
        ``model``'s initial state (weights, random state, optimizer state and learning rate).
        """
        if self._model is None:
            self._model = model
            return model
        copy_state(model, self._model)
        return self._model
