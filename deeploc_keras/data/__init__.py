"""The data engine: the cell store and its reader, the order of cells, the sources and tf.data pipelines that
read it, importers, the synthetic screen.

``store``, ``reader`` and ``order`` load no TensorFlow (``cellprofiler_features`` reads the store through
them); ``sources`` loads it when a dataset is built; ``pipeline`` and ``pairs`` build tf.data datasets
(docs/architecture.md draws the engine).
"""
