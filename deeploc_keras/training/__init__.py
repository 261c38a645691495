"""Training: the method registry, the training configuration, ``train`` and its callbacks, the sweep model."""
