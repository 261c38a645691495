"""Trained models applied to a store: per-cell features and protein profiles (``extract``), localization
calls (``predict``), and export of profiles to other formats."""
