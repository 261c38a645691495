"""Keras models: the original DeepLoc CNN (``deeploc``), its preprocessing layers (``layers``) and checkpoint
converter (``convert``), its presets (``presets``), and Paired Cell Inpainting (``pci``)."""

__all__: list[str] = []
