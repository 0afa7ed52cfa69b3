"""Core statements that the Compute API runs on every console request.

A primary-key lookup or a one-row insert takes SQLite some microseconds,
while SQLAlchemy's execution machinery (Connection, execution context,
CursorResult) adds about 30 to 60 microseconds to each statement (measured
with SQLAlchemy 2.1 and CPython 3.11; bench/api shows the effect). On SQLite,
Statement therefore compiles its Core statement once with SQLAlchemy and runs
the SQL on the pooled DBAPI connection, converting parameters and columns
with the bind and result processors of SQLAlchemy's own column types. On
other databases it uses Connection.execute, because a network round trip
costs more than SQLAlchemy does there.

Both paths return rows of the same named tuple type and raise the same
exceptions: SQLAlchemy's DBAPIError subclasses (IntegrityError, with the
driver's error in ``orig``), or engine.LockNotAvailable inside
engine.no_lock_wait().
"""

import collections
import sqlite3

import sqlalchemy as sa

from rdpconsole.db import engine as engine_module


class _SqlitePlan:
    """A statement compiled for the SQLite dialect, with its parameter order and type processors."""

    def __init__(self, statement, dialect):
        compiled = statement.compile(dialect=dialect)
        self.sql = compiled.string
        # The qmark paramstyle binds by position, in compiled.positiontup order.
        self.parameters = []
        for name in compiled.positiontup:
            bind_type = compiled.binds[name].type
            processor = bind_type.dialect_impl(dialect).bind_processor(dialect)
            self.parameters.append((name, processor))
        self.result_processors = None
        if isinstance(statement, sa.Select):
            self.result_processors = [
                column.type.dialect_impl(dialect).result_processor(dialect, None)
                for column in statement.selected_columns
            ]

    def arguments(self, parameters):
        values = []
        for name, processor in self.parameters:
            value = parameters[name]
            values.append(value if processor is None else processor(value))
        return values

    def convert_row(self, raw_row):
        return [
            value if processor is None or value is None else processor(value)
            for value, processor in zip(raw_row, self.result_processors)
        ]


class Statement:
    """A Core SELECT, INSERT, UPDATE or DELETE with named bind parameters.

    A SELECT returns rows of the named tuple type ``row_type``, whose fields
    are the keys (labels) of the selected columns; without it, a new type
    named ``row_name`` is made. Pass the row_type of another Statement to
    give two SELECTs of the same columns one row type.
    """

    def __init__(self, statement, row_name="Row", row_type=None):
        self._statement = statement
        self._plans = {}
        self.row_type = None
        if isinstance(statement, sa.Select):
            keys = tuple(statement.selected_columns.keys())
            if row_type is None:
                row_type = collections.namedtuple(row_name, keys)
            elif row_type._fields != keys:
                raise ValueError(f"row type fields {row_type._fields} differ from the "
                                 f"selected columns {keys}")
            self.row_type = row_type

    def _plan(self, dialect):
        plan = self._plans.get(dialect)
        if plan is None:
            plan = _SqlitePlan(self._statement, dialect)
            self._plans[dialect] = plan
        return plan

    def first(self, engine, parameters):
        """Return the first row of a SELECT as a row_type tuple, or None when there is none."""
        if engine.dialect.name != "sqlite":
            with engine.connect() as connection:
                row = connection.execute(self._statement, parameters).first()
            return None if row is None else self.row_type._make(row)

        plan = self._plan(engine.dialect)
        arguments = plan.arguments(parameters)
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                cursor.execute(plan.sql, arguments)
                raw_row = cursor.fetchone()
            finally:
                cursor.close()
        except sqlite3.Error as error:
            raise _wrap(error, plan.sql, arguments) from error
        finally:
            connection.close()
        if raw_row is None:
            return None
        return self.row_type._make(plan.convert_row(raw_row))

    def execute_in_transaction(self, engine, parameters):
        """Run an INSERT, UPDATE or DELETE in a transaction of its own and commit it."""
        if engine.dialect.name != "sqlite":
            with engine.begin() as connection:
                connection.execute(self._statement, parameters)
            return

        plan = self._plan(engine.dialect)
        arguments = plan.arguments(parameters)
        connection = engine.raw_connection()
        try:
            cursor = connection.cursor()
            try:
                # The sqlite3 module opens the transaction before the statement.
                cursor.execute(plan.sql, arguments)
            finally:
                cursor.close()
            connection.commit()
        except sqlite3.Error as error:
            connection.rollback()
            raise _wrap(error, plan.sql, arguments) from error
        finally:
            connection.close()


def _wrap(error, sql, arguments):
    """Return the exception that Connection.execute would raise for a driver error."""
    engine_module.raise_if_lock_not_available(error)
    return sa.exc.DBAPIError.instance(sql, arguments, error, sqlite3.Error)
