"""Apply and inspect Alembic migrations."""

import os

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS_PATH = os.path.join(os.path.dirname(__file__), "migrations")


def _alembic_config(engine):
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_PATH)
    config.attributes["engine"] = engine
    return config


def upgrade(engine, revision="head"):
    """Bring the schema of ``engine``'s database up to ``revision``."""
    command.upgrade(_alembic_config(engine), revision)


def current_revision(engine):
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision():
    config = Config()
    config.set_main_option("script_location", MIGRATIONS_PATH)
    return ScriptDirectory.from_config(config).get_current_head()
