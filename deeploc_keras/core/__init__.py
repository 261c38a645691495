"""The shared core: errors, safe outputs, run records, console, profile files, normalization, worker lifetime.

Every package may import it (``eval`` and ``cellprofiler_features`` too); it imports none of them and no
TensorFlow.
"""
