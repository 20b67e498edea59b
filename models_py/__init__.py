"""churnwatch training: load training_examples, train, evaluate, export to ONNX, keep a registry.

Light at import time: TensorFlow is imported only by `models_py.train` and `models_py.export`
functions that need it, never by `models_py.cli`, `models_py.registry` or `models_py.metrics`.

Entry points for the pipeline:
    models_py.registry.active_model(con, feature_names, horizon_days)
    models_py.registry.ensure_model(db_path, feature_names=None, horizon_days=30, ...)
    models_py.train.train_and_register(db_path, config, ...)
"""

FORMAT_VERSION = "1"
"""Bumped when training changes in a way that must give a new model version for the same data."""
