"""performer record seal

The studio's signature over each performer record and its reference faces
(consent/trust.py). Existing records start unsealed; `likeness init` seals those
whose keys agree with their `performer_added` ledger entry.

Revision ID: 0004_performer_seal
Revises: 0003_performer_erasures
"""
import sqlalchemy as sa
from alembic import op

revision = '0004_performer_seal'
down_revision = '0003_performer_erasures'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('performers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('record_signature', sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('performers', schema=None) as batch_op:
        batch_op.drop_column('record_signature')
