"""no plaintext copies of sealed definition parts: nodes.name may be empty, and the names and
edge conditions already stored are cleared (the encrypted definition keeps them)

Revision ID: 0003_security
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = '0003_security'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('nodes') as batch:
        batch.alter_column('name', existing_type=sa.String(length=255), nullable=True)
    op.execute("UPDATE nodes SET name = NULL")
    op.execute("UPDATE edges SET condition = NULL")


def downgrade() -> None:
    # The names come back as the node ids (the real ones are only in the encrypted definition).
    op.execute("UPDATE nodes SET name = node_id WHERE name IS NULL")
    with op.batch_alter_table('nodes') as batch:
        batch.alter_column('name', existing_type=sa.String(length=255), nullable=False)
