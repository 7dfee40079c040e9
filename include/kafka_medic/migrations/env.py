"""Alembic's entry point for the store: runs the revisions on the connection kafka_medic.store_schema passes.

The caller holds the migration lock and the transaction; Alembic joins it (an external transaction),
so the revisions and the version row commit or roll back together.
"""

from alembic import context

from kafka_medic.store_schema import VERSION_TABLE

context.configure(connection=context.config.attributes["connection"], version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
