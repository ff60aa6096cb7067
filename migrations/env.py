"""Alembic environment. The URL is config.attributes["database_url"] when set (tests,
`quietline serve`), else the server settings (QUIETLINE_DATABASE_URL)."""

from logging.config import fileConfig

from alembic import context
from sqlalchemy import func, select

from server.settings import Settings, resolve_database_url
from server.storage.db import begin_immediately, is_sqlite, make_engine
from server.storage.models import Base

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata
# PostgreSQL advisory lock key of migrations (any 64-bit number no other lock uses).
MIGRATION_LOCK = 0x71756965746D67


def database_url() -> str:
    url = config.attributes.get("database_url") or Settings().database_url
    return resolve_database_url(url)


def run_migrations_offline() -> None:
    url = database_url()
    context.configure(
        url=url,
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=is_sqlite(url),
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = database_url()
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            # Several workers started at once (`quietline serve` migrates first) migrate one
            # after another: the first does the work, the others then find the schema at the
            # head. SQLite: the write lock from BEGIN; PostgreSQL: an advisory lock (below).
            begin_immediately(connection)
            context.configure(
                connection=connection,
                target_metadata=target_metadata,
                render_as_batch=is_sqlite(url),
                compare_type=True,
                # make_engine has SQLAlchemy emit BEGIN on SQLite too, so DDL there is
                # transactional like PostgreSQL's: a failed migration leaves no half schema.
                transactional_ddl=True,
            )
            with context.begin_transaction():
                if connection.dialect.name == "postgresql":
                    connection.execute(select(func.pg_advisory_xact_lock(MIGRATION_LOCK)))
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
