"""performer erasures: the tombstone of a performer whose likeness data was erased

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('performer_erasures',
    sa.Column('performer_id', sa.String(length=64), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('removed_by', sa.String(length=16), nullable=False),
    sa.Column('statement', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['performer_id'], ['performers.performer_id'], ),
    sa.PrimaryKeyConstraint('performer_id')
    )


def downgrade() -> None:
    op.drop_table('performer_erasures')
