"""IPv6 consent addresses written out in full

The referral burst check counts one IPv6 /64 network as one client (phones rotate
through addresses of their /64). It ranges over consent_ip's text, which needs every
IPv6 address in the exploded form that registrations now store. The address stays the
same; only its notation changes, so the downgrade leaves it as it is.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 15:10:00
"""

from __future__ import annotations

import ipaddress

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 1000


def upgrade() -> None:
    participant = sa.table("participant", sa.column("id", sa.Integer), sa.column("consent_ip"))
    bind = op.get_bind()
    last = 0
    while True:
        rows = bind.execute(
            sa.select(participant.c.id, participant.c.consent_ip)
            .where(participant.c.id > last, participant.c.consent_ip.like("%:%"))
            .order_by(participant.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        for row_id, address in rows:
            try:
                exploded = ipaddress.IPv6Address(address).exploded
            except ValueError:
                continue
            if exploded != address:
                bind.execute(
                    sa.update(participant)
                    .where(participant.c.id == row_id)
                    .values(consent_ip=exploded)
                )
        last = rows[-1][0]


def downgrade() -> None:
    pass  # the same addresses in another notation: nothing to undo
