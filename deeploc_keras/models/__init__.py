"""Keras models: the original DeepLoc CNN (``deeploc``) and Paired Cell Inpainting (``pci``)."""

__all__: list[str] = []
