"""In-database churn scoring: the ONNX model as DuckDB functions (no TensorFlow here).

Use `register(con)` on a DuckDB connection, or the dbt-duckdb plugin `scoring.plugin`.
"""

from scoring.model import ModelError, NoActiveModelError, ScoringModel, load_model
from scoring.udf import ScoringInputError, register, register_unavailable

__all__ = [
    "ModelError",
    "NoActiveModelError",
    "ScoringInputError",
    "ScoringModel",
    "load_model",
    "register",
    "register_unavailable",
]
