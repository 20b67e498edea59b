"""dbt-duckdb plugin that registers the churn scoring functions on dbt's DuckDB connection.

profiles.yml:

    plugins:
      - module: scoring.plugin
        config:            # optional
          model: null      # None = active model of main.model_registry; or a version / path
          reasons: auto    # auto | explainer | occlusion

dbt-duckdb opens one DuckDB connection per database instance and hands it to
`configure_connection`; each dbt thread then works on a cursor of that connection. The functions
are registered on that parent connection (they belong to the database, so every cursor sees
them) and are kept alive for the process, so no cursor can outlive them.

Without a usable model (none registered yet, or refused) the plugin does not fail the
connection: upstream models still build. It registers stand-ins that raise the reason
("... run `churnwatch train` first"), and the churn_scores model checks the registry first.
"""

from __future__ import annotations

import logging
from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from scoring.model import ModelError
from scoring.udf import register, register_unavailable

log = logging.getLogger(__name__)


class Plugin(BasePlugin):
    """Registers churn_score, churn_reasons, churn_score_and_reasons and the model functions."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Read the optional config; loads nothing (the model is read per database)."""
        self.model: str | None = plugin_config.get("model") or None
        self.reasons: str = plugin_config.get("reasons") or "auto"
        if self.reasons not in ("auto", "explainer", "attribution", "occlusion"):
            raise ValueError(
                f"scoring.plugin: reasons must be auto|explainer|occlusion, got {self.reasons!r}"
            )
        self.model_version: str | None = None
        self.unavailable_reason: str | None = None

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        """Register the functions on dbt's connection, or stand-ins that explain why not."""
        try:
            model = register(conn, self.model, reasons=self.reasons)  # type: ignore[arg-type]
        except ModelError as exc:
            self.model_version, self.unavailable_reason = None, str(exc)
            log.warning("churn scoring unavailable: %s", exc)
            register_unavailable(conn, str(exc))
        else:
            self.model_version, self.unavailable_reason = model.version, None
