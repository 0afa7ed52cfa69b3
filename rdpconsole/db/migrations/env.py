"""Alembic environment: the engine comes from rdpconsole, never from an alembic.ini."""

from alembic import context

from rdpconsole.db import models

config = context.config
engine = config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=models.Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
