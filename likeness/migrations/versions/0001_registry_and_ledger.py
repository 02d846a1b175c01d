"""registry and ledger

Revision ID: 0001
Revises: 
"""
import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table('performers',
    sa.Column('performer_id', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('public_key_pem', sa.Text(), nullable=False),
    sa.Column('public_key_id', sa.String(length=64), nullable=False),
    sa.Column('guardian_key_pem', sa.Text(), nullable=True),
    sa.Column('guardian_key_id', sa.String(length=64), nullable=True),
    sa.Column('date_of_birth', sa.Date(), nullable=True),
    sa.Column('voice_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('performer_id')
    )
    op.create_table('grants',
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('performer_id', sa.String(length=64), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('valid_from', sa.DateTime(timezone=True), nullable=False),
    sa.Column('valid_until', sa.DateTime(timezone=True), nullable=False),
    sa.Column('max_renders', sa.Integer(), nullable=True),
    sa.Column('renders_used', sa.Integer(), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['performer_id'], ['performers.performer_id'], ),
    sa.PrimaryKeyConstraint('grant_id')
    )
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_grants_performer_id'), ['performer_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_grants_valid_until'), ['valid_until'], unique=False)

    op.create_table('performer_faces',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('performer_id', sa.String(length=64), nullable=False),
    sa.Column('engine', sa.String(length=32), nullable=False),
    sa.Column('embedding', sa.LargeBinary(), nullable=False),
    sa.Column('image_sha256', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['performer_id'], ['performers.performer_id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('performer_faces', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_performer_faces_performer_id'), ['performer_id'], unique=False)

    op.create_table('revocations',
    sa.Column('revocation_id', sa.String(length=64), nullable=False),
    sa.Column('grant_id', sa.String(length=64), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['grant_id'], ['grants.grant_id'], ),
    sa.PrimaryKeyConstraint('revocation_id')
    )
    with op.batch_alter_table('revocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_revocations_grant_id'), ['grant_id'], unique=False)

    op.create_table('ledger_entries',
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('leaf_hash', sa.String(length=64), nullable=False),
    sa.Column('prev_hash', sa.String(length=64), nullable=False),
    sa.Column('signature', sa.String(length=100), nullable=False),
    sa.Column('render_id', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('seq'),
    sa.UniqueConstraint('leaf_hash')
    )
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_ledger_entries_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_ledger_entries_render_id'), ['render_id'], unique=False)

    op.create_table('ledger_tree_heads',
    sa.Column('tree_size', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('signature', sa.String(length=100), nullable=False),
    sa.PrimaryKeyConstraint('tree_size')
    )



def downgrade() -> None:

    op.drop_table('ledger_tree_heads')
    with op.batch_alter_table('ledger_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_ledger_entries_render_id'))
        batch_op.drop_index(batch_op.f('ix_ledger_entries_kind'))

    op.drop_table('ledger_entries')
    with op.batch_alter_table('revocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_revocations_grant_id'))

    op.drop_table('revocations')
    with op.batch_alter_table('performer_faces', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_performer_faces_performer_id'))

    op.drop_table('performer_faces')
    with op.batch_alter_table('grants', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_grants_valid_until'))
        batch_op.drop_index(batch_op.f('ix_grants_performer_id'))

    op.drop_table('grants')
    op.drop_table('performers')

