"""performer erasures (the tombstone of a performer whose likeness data was erased),
consent challenges and verified consent evidence

Revision ID: 0003_performer_erasures
Revises: 0002_performer_reels
"""
import sqlalchemy as sa
from alembic import op

revision = '0003_performer_erasures'
down_revision = '0002_performer_reels'
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
    op.create_table('consent_challenges',
    sa.Column('challenge_id', sa.String(length=64), nullable=False),
    sa.Column('performer_id', sa.String(length=64), nullable=False),
    sa.Column('phrase_sha256', sa.String(length=64), nullable=False),
    sa.Column('words', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['performer_id'], ['performers.performer_id'], ),
    sa.PrimaryKeyConstraint('challenge_id')
    )
    op.create_index('ix_consent_challenges_performer_id', 'consent_challenges', ['performer_id'])
    op.create_table('consent_evidence',
    sa.Column('video_sha256', sa.String(length=64), nullable=False),
    sa.Column('performer_id', sa.String(length=64), nullable=False),
    sa.Column('challenge_id', sa.String(length=64), nullable=False),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('results', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['performer_id'], ['performers.performer_id'], ),
    sa.PrimaryKeyConstraint('video_sha256')
    )
    op.create_index('ix_consent_evidence_performer_id', 'consent_evidence', ['performer_id'])


def downgrade() -> None:
    op.drop_index('ix_consent_evidence_performer_id', 'consent_evidence')
    op.drop_table('consent_evidence')
    op.drop_index('ix_consent_challenges_performer_id', 'consent_challenges')
    op.drop_table('consent_challenges')
    op.drop_table('performer_erasures')
