"""The project database schema: numbered SQL migrations and the migrator (stdlib only)."""

from projects_schema.migrate import (
    LATEST_VERSION,
    SchemaError,
    SchemaTooNewError,
    MigrationResult,
    migrate,
    migrations,
)

__all__ = [
    "LATEST_VERSION",
    "MigrationResult",
    "SchemaError",
    "SchemaTooNewError",
    "migrate",
    "migrations",
]
