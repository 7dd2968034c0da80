"""cases, their log and causes; users' e-mail and unit; the notification outbox; letters issued

Issue 11 closes the loop from a bad rating to a corrected officer:

* ``cases`` (vụ việc cần xử lý): opened by the rules (a nhũng nhiễu
  rating, an officer under the rate threshold for a month, a tampering
  alert, a silent kiosk) or by hand; one open case per cause
  (``open_key``, unique and set only while the case is not closed, as the
  alerts' own). ``status``: open | in_progress | resolved | closed (mở,
  đang xử lý, đã xử lý, đóng). ``due_date`` is a local date (working days
  counted with Vietnamese public holidays aside).
* ``case_links``: the alerts and ratings behind a case.
* ``case_events``: the case's log, who did what and when, system events
  (opened, reopened, overdue) with ``by`` NULL.
* ``letters_issued``: letters produced (from a case or the letters page),
  without the applicant's name, which is never stored.
* ``notifications``: the outbox of e-mails and webhook posts, written in the
  transaction that raised what they tell and delivered by a background
  sender with retries, so that delivery never blocks ingest; ``source``
  names what the message is about (``case:12``, ``alert:40``,
  ``digest:2026-12-02``) and is unique per channel and target: a message is
  queued once however many server processes see its cause.
* ``users.email`` (told of its unit's alerts and cases) and
  ``users.unit_code`` (NULL: every unit).

Revision ID: 0006
Revises: 0005
"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: Union[str, Sequence[str], None] = "0005"
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("email", sa.String(200)))
        batch.add_column(sa.Column("unit_code", sa.String(64)))
    op.create_table(
        "cases",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("officer_id", sa.String(200)),
        sa.Column("kiosk_id", sa.String(64)),
        sa.Column("unit_code", sa.String(200)),
        sa.Column("month", sa.String(7)),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="open"),
        sa.Column("owner", sa.String(100)),
        sa.Column("opened_at", sa.String(40), nullable=False),
        sa.Column("opened_by", sa.String(100)),
        sa.Column("due_date", sa.String(10), nullable=False),
        sa.Column("found_cause", sa.Text()),
        sa.Column("outcome", sa.Text()),
        sa.Column("resolved_at", sa.String(40)),
        sa.Column("closed_at", sa.String(40)),
        sa.Column("closed_by", sa.String(100)),
        sa.Column("reopened", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("watch_month", sa.String(7)),
        sa.Column("open_key", sa.String(300)),
        sa.Column("params", sa.Text(), nullable=False, server_default="{}"),
        sa.UniqueConstraint("open_key", name="uq_cases_open_key"),
    )
    op.create_index("ix_cases_status_due", "cases", ["status", "due_date"])
    op.create_index("ix_cases_officer", "cases", ["officer_id"])
    op.create_table(
        "case_links",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("alert_id", sa.Integer()),
        sa.Column("rating_id", sa.String(36)),
        sa.Column("linked_at", sa.String(40), nullable=False),
        sa.UniqueConstraint("case_id", "alert_id", name="uq_case_links_alert"),
        sa.UniqueConstraint("case_id", "rating_id", name="uq_case_links_rating"),
    )
    op.create_index("ix_case_links_case", "case_links", ["case_id"])
    op.create_index("ix_case_links_alert", "case_links", ["alert_id"])
    op.create_table(
        "case_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("case_id", sa.Integer(), sa.ForeignKey("cases.id"), nullable=False),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("by", sa.String(100)),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("action", sa.String(40)),
        sa.Column("text", sa.Text()),
        sa.Column("params", sa.Text(), nullable=False, server_default="{}"),
    )
    op.create_index("ix_case_events_case", "case_events", ["case_id"])
    op.create_table(
        "letters_issued",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("case_id", sa.Integer()),
        sa.Column("officer_id", sa.String(200)),
        sa.Column("unit_code", sa.String(200)),
        sa.Column("dossier_code", sa.String(200)),
        sa.Column("procedure_code", sa.String(200)),
        sa.Column("issued_at", sa.String(40), nullable=False),
        sa.Column("issued_by", sa.String(100)),
        sa.Column("sent_at", sa.String(40)),
        sa.Column("sha256", sa.String(64)),
        sa.Column("note", sa.Text()),
    )
    op.create_index("ix_letters_issued_case", "letters_issued", ["case_id"])
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("channel", sa.String(10), nullable=False),
        sa.Column("target", sa.String(500), nullable=False),
        sa.Column("source", sa.String(100), nullable=False),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("next_try_at", sa.String(40), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("sent_at", sa.String(40)),
        sa.Column("last_error", sa.Text()),
        sa.UniqueConstraint("channel", "target", "source", name="uq_notifications_once"),
    )
    op.create_index("ix_notifications_pending", "notifications", ["sent_at", "next_try_at"])


def downgrade() -> None:
    op.drop_table("notifications")
    op.drop_table("letters_issued")
    op.drop_table("case_events")
    op.drop_table("case_links")
    op.drop_table("cases")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("unit_code")
        batch.drop_column("email")
