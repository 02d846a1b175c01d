"""performer avatar reels

Revision ID: 0002_performer_reels
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002_performer_reels'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('performer_reels',
    sa.Column('performer_id', sa.String(length=64), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('width', sa.Integer(), nullable=False),
    sa.Column('height', sa.Integer(), nullable=False),
    sa.Column('added_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['performer_id'], ['performers.performer_id'], ),
    sa.PrimaryKeyConstraint('performer_id')
    )


def downgrade() -> None:
    op.drop_table('performer_reels')
