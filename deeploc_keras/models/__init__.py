"""Keras models: the original DeepLoc CNN (``deeploc``), its preprocessing layers (``layers``) and presets
(``presets``), Paired Cell Inpainting (``pci``), PIFiA (``pifia``, ``layers_pifia``), and the converter of the
authors' checkpoints (``convert``)."""

__all__: list[str] = []
