"""Create the servers and console_auth_tokens tables.

Revision ID: 0001
Revises:
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "servers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("uuid", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.String(length=255), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("task_state", sa.String(length=255), nullable=True),
        sa.Column("host", sa.String(length=255), nullable=True),
        sa.Column("console_host", sa.String(length=255), nullable=False),
        sa.Column("console_port", sa.Integer(), nullable=False),
        sa.Column("vm_id", sa.String(length=255), nullable=True),
        sa.Column("metadata", sa.JSON(), nullable=False),
        sa.Column("inventory_scope", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_servers"),
        sa.UniqueConstraint("uuid", name="uq_servers_uuid"),
    )
    op.create_index("ix_servers_project_id", "servers", ["project_id"])
    op.create_index("ix_servers_inventory_scope", "servers", ["inventory_scope"])

    op.create_table(
        "console_auth_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=255), nullable=False),
        sa.Column("console_type", sa.String(length=255), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("port", sa.Integer(), nullable=False),
        sa.Column("internal_access_path", sa.String(length=255), nullable=True),
        sa.Column("instance_uuid", sa.String(length=36), nullable=False),
        sa.Column("access_url_base", sa.String(length=255), nullable=True),
        sa.Column("expires", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_console_auth_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_console_auth_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["instance_uuid"],
            ["servers.uuid"],
            name="fk_console_auth_tokens_instance_uuid_servers",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_console_auth_tokens_instance_uuid", "console_auth_tokens", ["instance_uuid"]
    )
    op.create_index(
        "ix_console_auth_tokens_host_expires", "console_auth_tokens", ["host", "expires"]
    )
    op.create_index(
        "ix_console_auth_tokens_token_hash_instance_uuid",
        "console_auth_tokens",
        ["token_hash", "instance_uuid"],
    )
