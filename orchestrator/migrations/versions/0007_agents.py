"""agents that can run (model, instructions, tools, output schema, max iterations), unique
per owner; tools with approval and visibility; teams with a topology; squads unique per
creator, their members going with a deleted agent

Revision ID: 0007_agents
Revises: 0006_governance
Create Date: 2026-11-28 23:36:07.448105
"""
from alembic import op
import sqlalchemy as sa
import orchestrator.db.types
from sqlalchemy.dialects import postgresql

revision = '0007_agents'
down_revision = '0006_governance'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('teams',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=255), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('topology_config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('timeout_seconds', sa.Integer(), nullable=False),
    sa.Column('max_iterations', sa.Integer(), nullable=False),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('active', 'archived')", name=op.f('ck_teams_status')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_teams_owner_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_teams')),
    sa.UniqueConstraint('owner_id', 'name', name=op.f('uq_teams_owner_id_name'))
    )
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.create_index('ix_teams_status', ['status'], unique=False)

    op.create_table('tools',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('category', sa.String(length=100), nullable=True),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('input_schema', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False),
    sa.Column('visibility', sa.String(length=20), nullable=False),
    sa.Column('requires_approval', sa.Boolean(), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('reviewed_by', sa.Uuid(), nullable=True),
    sa.Column('reviewed_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', orchestrator.db.types.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("kind IN ('http', 'workflow')", name=op.f('ck_tools_kind')),
    sa.CheckConstraint("status IN ('pending', 'approved', 'rejected')", name=op.f('ck_tools_status')),
    sa.CheckConstraint("visibility IN ('private', 'shared')", name=op.f('ck_tools_visibility')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_tools_owner_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['reviewed_by'], ['users.id'], name=op.f('fk_tools_reviewed_by_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tools')),
    sa.UniqueConstraint('owner_id', 'name', name=op.f('uq_tools_owner_id_name'))
    )
    with op.batch_alter_table('tools', schema=None) as batch_op:
        batch_op.create_index('ix_tools_name_visibility', ['name', 'visibility'], unique=False)
        batch_op.create_index('ix_tools_status', ['status'], unique=False)

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.add_column(sa.Column('model', sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column('instructions', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('tools', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=False, server_default='[]'))
        batch_op.add_column(sa.Column('output_schema', sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'), nullable=True))
        batch_op.add_column(sa.Column('max_iterations', sa.Integer(), nullable=False, server_default='10'))
        batch_op.create_unique_constraint(batch_op.f('uq_agents_owner_id_name'), ['owner_id', 'name'])

    with op.batch_alter_table('squad_members', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_squad_members_agent_id_agents'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_squad_members_agent_id_agents'), 'agents', ['agent_id'], ['id'], ondelete='CASCADE')

    with op.batch_alter_table('squads', schema=None) as batch_op:
        batch_op.create_unique_constraint(batch_op.f('uq_squads_creator_id_name'), ['creator_id', 'name'])

    with op.batch_alter_table('workflow_templates', schema=None) as batch_op:
        batch_op.create_index('ix_workflow_templates_is_builtin_name', ['is_builtin', 'name'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('workflow_templates', schema=None) as batch_op:
        batch_op.drop_index('ix_workflow_templates_is_builtin_name')

    with op.batch_alter_table('squads', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_squads_creator_id_name'), type_='unique')

    with op.batch_alter_table('squad_members', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_squad_members_agent_id_agents'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_squad_members_agent_id_agents'), 'agents', ['agent_id'], ['id'])

    with op.batch_alter_table('agents', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_agents_owner_id_name'), type_='unique')
        batch_op.drop_column('max_iterations')
        batch_op.drop_column('output_schema')
        batch_op.drop_column('tools')
        batch_op.drop_column('instructions')
        batch_op.drop_column('model')

    with op.batch_alter_table('tools', schema=None) as batch_op:
        batch_op.drop_index('ix_tools_status')
        batch_op.drop_index('ix_tools_name_visibility')

    op.drop_table('tools')
    with op.batch_alter_table('teams', schema=None) as batch_op:
        batch_op.drop_index('ix_teams_status')

    op.drop_table('teams')
