"""The study end to end: the reference ladder, scoring with references, the report and ``reproduce``."""
