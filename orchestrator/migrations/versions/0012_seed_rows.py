"""the seeds' remaining rows: apps with their keys, workflow groups and app licenses (seed 004),
workflow snapshots (seed 001), execution lineage and artifacts (seed 003); workflows get their
group and who published them when, audit entries the app that acted

Revision ID: 0012_seed_rows
Revises: 0009_llm_ledger
Create Date: 2026-12-07
"""
from alembic import op
import sqlalchemy as sa
import orchestrator.db.types
from sqlalchemy.dialects import postgresql

revision = '0012_seed_rows'
down_revision = '0009_llm_ledger'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('apps',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('alias_id', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('audit_policy', sa.String(length=20), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("audit_policy IN ('changes', 'all')", name=op.f('ck_apps_audit_policy')),
    sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f('ck_apps_status')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_apps_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_apps')),
    sa.UniqueConstraint('owner_id', 'alias_id', name=op.f('uq_apps_owner_id_alias_id'))
    )
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.create_index('ix_apps_owner_id_created_at', ['owner_id', 'created_at'], unique=False)

    op.create_table('workflow_groups',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_workflow_groups_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_groups')),
    sa.UniqueConstraint('owner_id', 'name', name=op.f('uq_workflow_groups_owner_id_name'))
    )
    with op.batch_alter_table('workflow_groups', schema=None) as batch_op:
        batch_op.create_index('ix_workflow_groups_owner_id_created_at', ['owner_id', 'created_at'], unique=False)

    op.create_table('app_keys',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('app_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_app_keys_app_id_apps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_keys')),
    sa.UniqueConstraint('prefix', name=op.f('uq_app_keys_prefix'))
    )
    with op.batch_alter_table('app_keys', schema=None) as batch_op:
        batch_op.create_index('ix_app_keys_app_id', ['app_id'], unique=False)

    op.create_table('app_licenses',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('app_id', sa.Uuid(), nullable=False),
    sa.Column('group_id', sa.Uuid(), nullable=False),
    sa.Column('granted_by', sa.Uuid(), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_id'], ['apps.id'], name=op.f('fk_app_licenses_app_id_apps'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['granted_by'], ['users.id'], name=op.f('fk_app_licenses_granted_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['group_id'], ['workflow_groups.id'], name=op.f('fk_app_licenses_group_id_workflow_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_licenses')),
    sa.UniqueConstraint('app_id', 'group_id', name=op.f('uq_app_licenses_app_id_group_id'))
    )
    with op.batch_alter_table('app_licenses', schema=None) as batch_op:
        batch_op.create_index('ix_app_licenses_group_id', ['group_id'], unique=False)

    op.create_table('workflow_snapshots',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('workflow_id', sa.Uuid(), nullable=False),
    sa.Column('workflow_version_id', sa.Uuid(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('label', sa.String(length=255), nullable=False),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('base_version', sa.Integer(), nullable=True),
    sa.Column('diff_encrypted', sa.LargeBinary(), nullable=False),
    sa.Column('diff_iv', sa.LargeBinary(), nullable=False),
    sa.Column('key_id', sa.String(length=32), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], name=op.f('fk_workflow_snapshots_created_by_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workflow_id'], ['workflows.id'], name=op.f('fk_workflow_snapshots_workflow_id_workflows'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workflow_version_id'], ['workflow_versions.id'], name=op.f('fk_workflow_snapshots_workflow_version_id_workflow_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_workflow_snapshots'))
    )
    with op.batch_alter_table('workflow_snapshots', schema=None) as batch_op:
        batch_op.create_index('ix_workflow_snapshots_workflow_id_created_at', ['workflow_id', 'created_at'], unique=False)

    op.create_table('execution_lineage',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('ref_id', sa.Uuid(), nullable=False),
    sa.Column('metadata', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('api_key', 'app', 'schedule', 'parent', 'replay')", name=op.f('ck_execution_lineage_kind')),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_execution_lineage_execution_id_executions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_execution_lineage')),
    sa.UniqueConstraint('execution_id', 'kind', name=op.f('uq_execution_lineage_execution_id_kind'))
    )
    with op.batch_alter_table('execution_lineage', schema=None) as batch_op:
        batch_op.create_index('ix_execution_lineage_kind_ref_id', ['kind', 'ref_id'], unique=False)

    op.create_table('execution_artifacts',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('execution_id', sa.Uuid(), nullable=False),
    sa.Column('step_id', sa.Uuid(), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('media_type', sa.String(length=255), nullable=False),
    sa.Column('ref_type', sa.String(length=10), nullable=False),
    sa.Column('uri', sa.Text(), nullable=True),
    sa.Column('content', sa.LargeBinary(), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=True),
    sa.Column('sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("ref_type IN ('content', 'uri')", name=op.f('ck_execution_artifacts_ref_type')),
    sa.ForeignKeyConstraint(['execution_id'], ['executions.id'], name=op.f('fk_execution_artifacts_execution_id_executions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['step_id'], ['execution_steps.id'], name=op.f('fk_execution_artifacts_step_id_execution_steps'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_execution_artifacts')),
    sa.UniqueConstraint('step_id', 'position', name=op.f('uq_execution_artifacts_step_id_position'))
    )
    with op.batch_alter_table('execution_artifacts', schema=None) as batch_op:
        batch_op.create_index('ix_execution_artifacts_execution_id_created_at', ['execution_id', 'created_at'], unique=False)

    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('app_id', sa.Uuid(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_audit_logs_app_id_apps'), 'apps', ['app_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.add_column(sa.Column('published_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('published_by', sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column('group_id', sa.Uuid(), nullable=True))
        batch_op.create_index('ix_workflows_group_id', ['group_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_workflows_published_by_users'), 'users', ['published_by'], ['id'], ondelete='SET NULL')
        batch_op.create_foreign_key(batch_op.f('fk_workflows_group_id_workflow_groups'), 'workflow_groups', ['group_id'], ['id'], ondelete='SET NULL')



def downgrade() -> None:
    with op.batch_alter_table('workflows', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_workflows_group_id_workflow_groups'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_workflows_published_by_users'), type_='foreignkey')
        batch_op.drop_index('ix_workflows_group_id')
        batch_op.drop_column('group_id')
        batch_op.drop_column('published_by')
        batch_op.drop_column('published_at')

    with op.batch_alter_table('audit_logs', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_audit_logs_app_id_apps'), type_='foreignkey')
        batch_op.drop_column('app_id')

    with op.batch_alter_table('execution_artifacts', schema=None) as batch_op:
        batch_op.drop_index('ix_execution_artifacts_execution_id_created_at')

    op.drop_table('execution_artifacts')
    with op.batch_alter_table('execution_lineage', schema=None) as batch_op:
        batch_op.drop_index('ix_execution_lineage_kind_ref_id')

    op.drop_table('execution_lineage')
    with op.batch_alter_table('workflow_snapshots', schema=None) as batch_op:
        batch_op.drop_index('ix_workflow_snapshots_workflow_id_created_at')

    op.drop_table('workflow_snapshots')
    with op.batch_alter_table('app_licenses', schema=None) as batch_op:
        batch_op.drop_index('ix_app_licenses_group_id')

    op.drop_table('app_licenses')
    with op.batch_alter_table('app_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_app_keys_app_id')

    op.drop_table('app_keys')
    with op.batch_alter_table('workflow_groups', schema=None) as batch_op:
        batch_op.drop_index('ix_workflow_groups_owner_id_created_at')

    op.drop_table('workflow_groups')
    with op.batch_alter_table('apps', schema=None) as batch_op:
        batch_op.drop_index('ix_apps_owner_id_created_at')

    op.drop_table('apps')
