"""The package's own warning category (tests turn it into errors)."""

__all__ = ["DeeplocKerasWarning"]


class DeeplocKerasWarning(UserWarning):
    """Warning raised by deeploc-keras itself (not by a third-party library)."""
