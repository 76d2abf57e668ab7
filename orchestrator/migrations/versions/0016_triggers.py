"""webhook triggers (and the signatures they accepted), notification targets and their
deliveries; executions may have the trigger, and lineage the kind, ``webhook``

Revision ID: 0016_triggers
Revises: 0012_seed_rows
Create Date: 2026-12-08
"""
from alembic import op
import sqlalchemy as sa
import orchestrator.db.types
from sqlalchemy.dialects import postgresql

revision = '0016_triggers'
down_revision = '0012_seed_rows'
branch_labels = None
depends_on = None

TRIGGERS = "trigger IN ({})"
LINEAGE_KINDS = "kind IN ({})"
BEFORE = ("'api', 'schedule', 'cli', 'retry', 'subworkflow'", "'api_key', 'app', 'schedule', 'parent', 'replay'")


def _checks(triggers: str, kinds: str) -> None:
    with op.batch_alter_table('executions', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_executions_trigger'), type_='check')
        batch_op.create_check_constraint('trigger', TRIGGERS.format(triggers))
    with op.batch_alter_table('execution_lineage', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_execution_lineage_kind'), type_='check')
        batch_op.create_check_constraint('kind', LINEAGE_KINDS.format(kinds))


def upgrade() -> None:
    _checks(BEFORE[0] + ", 'webhook'", BEFORE[1] + ", 'webhook'")
    op.create_table('webhooks',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('workflow_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=True),
    sa.Column('secret_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('secret_iv', sa.LargeBinary(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('input_template', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('idempotency_header', sa.String(length=100), nullable=True),
    sa.Column('idempotency_field', sa.String(length=255), nullable=True),
    sa.Column('tolerance_seconds', sa.Integer(), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_called_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint('tolerance_seconds > 0', name=op.f('ck_webhooks_tolerance_seconds')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_webhooks_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], name=op.f('fk_webhooks_workflow_id_workflows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks'))
    )
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.create_index('ix_webhooks_workflow_id_created_at', ['workflow_id', 'created_at'], unique=False)

    op.create_table('webhook_signatures',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('webhook_id', sa.Uuid(), nullable=False),
    sa.Column('signature', sa.String(length=64), nullable=False),
    sa.Column('seen_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'], name=op.f('fk_webhook_signatures_webhook_id_webhooks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_signatures')),
    sa.UniqueConstraint('webhook_id', 'signature', name=op.f('uq_webhook_signatures_webhook_id_signature'))
    )
    with op.batch_alter_table('webhook_signatures', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_signatures_webhook_id_seen_at', ['webhook_id', 'seen_at'], unique=False)

    op.create_table('notification_targets',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('workflow_id', sa.Uuid(), nullable=True),
    sa.Column('execution_id', sa.Uuid(), nullable=True),
    sa.Column('url_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('url_iv', sa.LargeBinary(), nullable=False),
    sa.Column('secret_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('secret_iv', sa.LargeBinary(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('events', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('(workflow_id IS NULL) <> (execution_id IS NULL)', name=op.f('ck_notification_targets_workflow_or_execution')),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_notification_targets_execution_id_executions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_notification_targets_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], name=op.f('fk_notification_targets_workflow_id_workflows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_targets'))
    )
    with op.batch_alter_table('notification_targets', schema=None) as batch_op:
        batch_op.create_index('ix_notification_targets_execution_id', ['execution_id'], unique=False)
        batch_op.create_index('ix_notification_targets_workflow_id', ['workflow_id'], unique=False)

    op.create_table('notification_deliveries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('target_id', sa.Uuid(), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('event', sa.String(length=30), nullable=False),
    sa.Column('event_seq', sa.Integer(), nullable=False),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.CheckConstraint("event IN ('execution.completed', 'execution.failed', 'execution.cancelled', 'execution.timed_out', 'approval.waiting')", name=op.f('ck_notification_deliveries_event')),
    sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name=op.f('ck_notification_deliveries_status')),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_notification_deliveries_execution_id_executions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['target_id'], ['notification_targets.id'], name=op.f('fk_notification_deliveries_target_id_notification_targets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_deliveries')),
    sa.UniqueConstraint('target_id', 'execution_id', 'event_seq', name=op.f('uq_notification_deliveries_target_id_execution_id_event_seq'))
    )
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_notification_deliveries_execution_id_created_at', ['execution_id', 'created_at'], unique=False)
        batch_op.create_index('ix_notification_deliveries_status_next_attempt_at', ['status', 'next_attempt_at'], unique=False)



def downgrade() -> None:
    # What webhooks started stays, as started through the API.
    op.execute("UPDATE executions SET trigger = 'api' WHERE trigger = 'webhook'")
    op.execute("DELETE FROM execution_lineage WHERE kind = 'webhook'")
    _checks(*BEFORE)
    with op.batch_alter_table('notification_deliveries', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_deliveries_status_next_attempt_at')
        batch_op.drop_index('ix_notification_deliveries_execution_id_created_at')

    op.drop_table('notification_deliveries')
    with op.batch_alter_table('notification_targets', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_targets_workflow_id')
        batch_op.drop_index('ix_notification_targets_execution_id')

    op.drop_table('notification_targets')
    with op.batch_alter_table('webhook_signatures', schema=None) as batch_op:
        batch_op.drop_index('ix_webhook_signatures_webhook_id_seen_at')

    op.drop_table('webhook_signatures')
    with op.batch_alter_table('webhooks', schema=None) as batch_op:
        batch_op.drop_index('ix_webhooks_workflow_id_created_at')

    op.drop_table('webhooks')
