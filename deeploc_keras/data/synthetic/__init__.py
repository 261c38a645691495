"""Synthetic yeast ORF-GFP screen with a known functional hierarchy (the package's default data).

Modules: ``hierarchy`` (proteome and functional groups), ``cells`` (cell geometry),
``patterns`` (one renderer per localization class), ``camera`` (optics and noise),
``screen`` (the public entry :func:`simulate_screen`), ``realism`` (statistics
comparing simulated and real crops), ``montage`` (PNG grid of cells per class).
"""

from .screen import SimulatedScreen, simulate_screen

__all__ = ["simulate_screen", "SimulatedScreen"]
