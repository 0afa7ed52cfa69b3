"""Options of the ``[database]`` group."""

from oslo_config import cfg

database_group = cfg.OptGroup("database", title="Database options")

database_opts = [
    cfg.StrOpt(
        "connection",
        default="sqlite:///$state_path/rdpconsole.sqlite",
        secret=True,
        help="SQLAlchemy URL of the database that stores servers and console "
        "tokens, for example sqlite:////var/lib/rdpconsole/rdpconsole.sqlite, "
        "postgresql+psycopg2://user:password@db.example.org/rdpconsole or "
        "mysql+pymysql://user:password@db.example.org/rdpconsole. Every API "
        "worker and gateway node of one deployment uses the same database.",
    ),
    cfg.IntOpt(
        "max_pool_size",
        default=5,
        min=1,
        help="Connections each process keeps open to a PostgreSQL or MySQL "
        "server. Not used with SQLite.",
    ),
    cfg.IntOpt(
        "max_overflow",
        default=10,
        min=0,
        help="Connections a process may open beyond max_pool_size under load. "
        "Not used with SQLite.",
    ),
]


def register_opts(conf):
    conf.register_group(database_group)
    conf.register_opts(database_opts, group=database_group)


def list_opts():
    return {database_group: database_opts}
