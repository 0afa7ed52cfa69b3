"""One object that gives each layer its database access."""

from rdpconsole.db import engine as engine_module
from rdpconsole.db import migration


class DatabaseNotReady(Exception):
    """The database schema is older than this version of rdpconsole."""


class Database:
    """The engine and sessionmaker of one ``[database] connection`` URL."""

    def __init__(self, url, max_pool_size=5, max_overflow=10):
        self.url = url
        self.engine = engine_module.create_engine(
            url, max_pool_size=max_pool_size, max_overflow=max_overflow
        )
        self.sessionmaker = engine_module.create_sessionmaker(self.engine)

    @classmethod
    def from_conf(cls, conf):
        return cls(
            conf.database.connection,
            max_pool_size=conf.database.max_pool_size,
            max_overflow=conf.database.max_overflow,
        )

    @property
    def is_sqlite(self):
        return self.engine.dialect.name == "sqlite"

    @property
    def is_sqlite_file(self):
        """Whether this is an SQLite database in a file, which runs in WAL mode."""
        return self.is_sqlite and self.engine.url.database not in (None, "", ":memory:")

    def defer_checkpoints(self):
        """Leave WAL checkpoints of an SQLite file to checkpoint(); see engine.defer_checkpoints."""
        engine_module.defer_checkpoints(self.engine)

    def checkpoint(self):
        """Run a PASSIVE WAL checkpoint of an SQLite file database; see engine.checkpoint."""
        return engine_module.checkpoint(self.engine)

    def upgrade(self):
        migration.upgrade(self.engine)

    def ensure_ready(self):
        """Upgrade an SQLite database in place; require ``db upgrade`` for any other."""
        if self.is_sqlite:
            self.upgrade()
            return
        current = migration.current_revision(self.engine)
        head = migration.head_revision()
        if current != head:
            raise DatabaseNotReady(
                f"The database schema is at revision {current or 'none'} but this "
                f"rdpconsole needs {head}. Run 'rdpconsole db upgrade --config-file ...' first."
            )

    def dispose(self):
        self.engine.dispose()
