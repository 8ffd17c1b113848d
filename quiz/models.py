"""Typed SQLAlchemy models: columns, relationships and tiny invariants only."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from quiz.db import Base, UTCDateTime, utcnow

FOLLOW_UP_STATUSES = ("待联系", "已联系", "已拜访", "已成交", "无效")
ROLES = ("admin", "analyst", "branch")
# Campaign kinds (quiz.campaign.kinds describes each) and publication states. Kept here as
# plain tuples: the CHECK constraints below and migration 0010 name the same values.
CAMPAIGN_KINDS = ("prize_quiz", "list_draw", "staff_contest", "artwork_contest")
CAMPAIGN_STATUSES = ("draft", "published", "archived")


class Campaign(Base):
    """One campaign, loaded from the campaign file head office edits."""

    __tablename__ = "campaign"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('prize_quiz', 'list_draw', 'staff_contest', 'artwork_contest')",
            name="kind",
        ),
        CheckConstraint("status IN ('draft', 'published', 'archived')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # Which flow the campaign has (quiz.campaign.kinds); decides its public steps and staff pages.
    kind: Mapped[str] = mapped_column(String(32), default="prize_quiz")
    # draft: only staff see it; published: public within its window; archived: off the site.
    status: Mapped[str] = mapped_column(String(16), default="published")
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime())
    draw_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The validated campaign file as data: texts, prize tiers, settings.
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_sha256: Mapped[str] = mapped_column(String(64))
    loaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    questions: Mapped[list[Question]] = relationship(
        back_populates="campaign", order_by="Question.position"
    )


class Question(Base):
    """A knowledge or purchase-intent question of a campaign."""

    __tablename__ = "question"
    __table_args__ = (UniqueConstraint("campaign_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))  # "knowledge" or "intent"
    multiple: Mapped[bool] = mapped_column(Boolean, default=False)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    # [{"key": "A", "text": "..."}, ...]
    options: Mapped[list[dict[str, str]]] = mapped_column(JSON)
    correct: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    explanation: Mapped[str | None] = mapped_column(Text, nullable=True)
    # A free label head office groups the bank by (e.g. 犹豫期, 理赔); not shown to entrants.
    category: Mapped[str | None] = mapped_column(String(32), nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    campaign: Mapped[Campaign] = relationship(back_populates="questions")


class Branch(Base):
    """An insurer branch (机构) that receives leads."""

    __tablename__ = "branch"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(16), default="分公司")
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), nullable=True)
    contact: Mapped[str | None] = mapped_column(String(200), nullable=True)
    target: Mapped[int | None] = mapped_column(Integer, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class BranchRoute(Base):
    """Maps a province (city_code NULL) or a city override to a branch."""

    __tablename__ = "branch_route"
    __table_args__ = (UniqueConstraint("province_code", "city_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    province_code: Mapped[str] = mapped_column(String(6))
    city_code: Mapped[str | None] = mapped_column(String(6), nullable=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))

    branch: Mapped[Branch] = relationship()


class Channel(Base):
    """A promotion channel (partner site, SMS, poster ...)."""

    __tablename__ = "channel"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(100))


class Agent(Base):
    """A branch sales agent who promotes the campaign."""

    __tablename__ = "agent"
    __table_args__ = (UniqueConstraint("branch_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    code: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(100))
    # Keyed hash of the agent's mobile (optional CSV column): detects self-referral.
    mobile_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)

    branch: Mapped[Branch] = relationship()


class ReferralLink(Base):
    """A tracked short link /r/<code> for a channel, branch or agent."""

    __tablename__ = "referral_link"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel.id"), nullable=True)
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), nullable=True)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # The campaign a printed link was made for: /r/<code> leads into it. NULL only on links
    # made before several campaigns could be live (migration 0010 gives them the one there was).
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id"), nullable=True, index=True
    )

    channel: Mapped[Channel | None] = relationship()
    branch: Mapped[Branch | None] = relationship()
    agent: Mapped[Agent | None] = relationship()


class Participant(Base):
    """A registered member of the public: the entry and the sales lead.

    The resident ID number and mobile are stored encrypted; their keyed hashes
    serve uniqueness and look-ups; masked forms serve lists and the draw file.
    """

    __tablename__ = "participant"
    __table_args__ = (
        UniqueConstraint("campaign_id", "id_hash"),
        Index("ix_participant_branch_created", "branch_id", "created_at"),
        # Lookups that must not read a whole campaign, branch or link: SQLite plans without
        # statistics and takes an index led by campaign_id alone when nothing better fits
        # (tests/test_query_plans.py asks it).
        # One mobile: the same-mobile flag, the draw's entry check, erasure by mobile.
        Index("ix_participant_mobile_campaign", "mobile_hash", "campaign_id"),
        # A branch's leads newest first, 50 a page: the id order comes with the index.
        Index("ix_participant_branch", "branch_id"),
        # The burst check of each referred registration: one link, one address, a window.
        Index("ix_participant_referral_burst", "referral_link_id", "consent_ip", "created_at"),
        # The purge's batches: entries of a campaign not yet anonymised, in id order.
        Index("ix_participant_purge", "campaign_id", "anonymised_at"),
        # Covering indexes for the dashboard's GROUP BY queries (quiz/reports/stats.py).
        Index(
            "ix_participant_stats_branch", "campaign_id", "branch_id", "status", "follow_up_status"
        ),
        Index("ix_participant_stats_province", "campaign_id", "province_code"),
        Index("ix_participant_stats_score", "campaign_id", "status", "score"),
        Index("ix_participant_stats_intent", "campaign_id", "intent_level"),
        Index("ix_participant_stats_created", "campaign_id", "created_at"),
        # Covers every leaderboard query (quiz/referrals/leaderboard.py): at a million leads they
        # read this narrow index instead of the wide rows, 8 s down to 1.5 s on SQLite.
        Index(
            "ix_participant_board",
            "campaign_id",
            "branch_id",
            "agent_id",
            "channel_id",
            "referral_link_id",
            "status",
            "referral_flagged",
            "created_at",
            "completed_at",
        ),
        CheckConstraint("status IN ('registered', 'completed')", name="status"),
        # One entry per verified mobile per campaign, next to one per ID number.
        Index(
            "uq_participant_verified_mobile",
            "campaign_id",
            "mobile_hash",
            unique=True,
            sqlite_where=sql_text("mobile_verified_at IS NOT NULL"),
            postgresql_where=sql_text("mobile_verified_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="registered")

    name: Mapped[str] = mapped_column(String(100))
    name_masked: Mapped[str] = mapped_column(String(100))
    id_hash: Mapped[str] = mapped_column(String(64))
    id_enc: Mapped[bytes] = mapped_column(LargeBinary)
    id_masked: Mapped[str] = mapped_column(String(24))
    id_last4: Mapped[str] = mapped_column(String(4))
    # 18 or older on the Beijing date of entry (quiz.entry.age); the draw takes only True. Not
    # the birth date: with id_masked's first six and last four digits it gave back the
    # whole ID number. NULL: unknown (entries anonymised before migration 0007).
    adult: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    mobile_hash: Mapped[str] = mapped_column(String(64))
    mobile_enc: Mapped[bytes] = mapped_column(LargeBinary)
    mobile_masked: Mapped[str] = mapped_column(String(16))
    landline_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    duplicate_mobile: Mapped[bool] = mapped_column(Boolean, default=False)
    # When the entrant proved the mobile is theirs with an SMS code (quiz.fraud.codes);
    # NULL: the campaign did not ask. One verified entry per mobile (the partial index).
    mobile_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    address: Mapped[str] = mapped_column(String(300))
    postal_code: Mapped[str] = mapped_column(String(6))
    postal_mismatch: Mapped[bool] = mapped_column(Boolean, default=False)
    province_code: Mapped[str | None] = mapped_column(String(6), nullable=True, index=True)
    city_code: Mapped[str | None] = mapped_column(String(6), nullable=True, index=True)
    district_code: Mapped[str | None] = mapped_column(String(6), nullable=True)
    division_code: Mapped[str | None] = mapped_column(String(6), nullable=True)
    unresolved_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Indexed by ix_participant_branch_created, whose first column it is.
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), nullable=True)
    address_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), nullable=True)

    referral_link_id: Mapped[int | None] = mapped_column(
        ForeignKey("referral_link.id"), nullable=True
    )
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id"), nullable=True, index=True)
    channel_id: Mapped[int | None] = mapped_column(ForeignKey("channel.id"), nullable=True)
    referral_flagged: Mapped[bool] = mapped_column(Boolean, default=False)

    score: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    intent: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    # First product-interest answer, kept in a column so the leads list can filter on it.
    intent_level: Mapped[str | None] = mapped_column(String(32), nullable=True, index=True)

    consent_rules_version: Mapped[str] = mapped_column(String(64))
    consent_privacy_version: Mapped[str] = mapped_column(String(64))
    consent_sensitive: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consent_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)

    follow_up_status: Mapped[str] = mapped_column(String(8), default="待联系", index=True)
    # The day (Beijing) the branch agreed to call again; drives 我的待联系 and 逾期未跟进.
    next_contact_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # The participant chose 暂不需要联系: the draw entry stands, but no sales contact.
    contact_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    excluded: Mapped[bool] = mapped_column(Boolean, default=False)
    excluded_reason: Mapped[str | None] = mapped_column(String(200), nullable=True)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    campaign: Mapped[Campaign] = relationship()
    branch: Mapped[Branch | None] = relationship(foreign_keys=[branch_id])
    address_branch: Mapped[Branch | None] = relationship(foreign_keys=[address_branch_id])
    agent: Mapped[Agent | None] = relationship()
    channel: Mapped[Channel | None] = relationship()
    items: Mapped[list[QuizItem]] = relationship(
        back_populates="participant", order_by="QuizItem.position"
    )


class QuizItem(Base):
    """A question assigned to a participant, in order, and the answer once given."""

    __tablename__ = "quiz_item"
    __table_args__ = (
        UniqueConstraint("participant_id", "position"),
        UniqueConstraint("participant_id", "question_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"))
    # Indexed: loading a campaign file asks which questions any entry already holds.
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    answer: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    is_correct: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # The option keys in the order this participant was shown them (stored with the
    # answer): the shown letter of an answer can be told from its key afterwards.
    option_order: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)

    participant: Mapped[Participant] = relationship(back_populates="items")
    question: Mapped[Question] = relationship()


class Contestant(Base):
    """A staff member on a knowledge contest's roster (quiz.contest.roster): no ID number,
    no address. Signs in with 工号 and a one-time code; one browser session at a time."""

    __tablename__ = "contestant"
    __table_args__ = (
        UniqueConstraint("campaign_id", "staff_no"),
        Index("ix_contestant_branch", "campaign_id", "branch_id", "group_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    staff_no: Mapped[str] = mapped_column(String(32))  # 工号
    name: Mapped[str] = mapped_column(String(100))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    group_code: Mapped[str] = mapped_column(String(16))  # a [[contest.groups]] code
    mobile_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    mobile_masked: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Keyed hash of the personal invitation code (never the code); NULL once used.
    invite_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The one signed-in session: a new sign-in replaces it, signing the other device out.
    session_token: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signed_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    branch: Mapped[Branch] = relationship()


class ContestPaper(Base):
    """A contestant's one attempt: its own questions, deadline and score (independent of
    Participant). Closed when submitted or when the deadline passes (computed on read)."""

    __tablename__ = "contest_paper"
    __table_args__ = (Index("ix_contest_paper_rank", "campaign_id", "group_code", "score"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    contestant_id: Mapped[int] = mapped_column(
        ForeignKey("contestant.id", ondelete="CASCADE"), unique=True
    )
    group_code: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    score: Mapped[int] = mapped_column(Integer, default=0)
    max_score: Mapped[int] = mapped_column(Integer, default=0)
    # Times the contestant left the page (visibilitychange): shown to head office only.
    visibility_changes: Mapped[int] = mapped_column(Integer, default=0)

    contestant: Mapped[Contestant] = relationship()


class ContestAnswer(Base):
    """One question of a paper, its shown option order and the answer once given."""

    __tablename__ = "contest_answer"
    __table_args__ = (
        UniqueConstraint("paper_id", "position"),
        UniqueConstraint("paper_id", "question_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    paper_id: Mapped[int] = mapped_column(ForeignKey("contest_paper.id", ondelete="CASCADE"))
    question_id: Mapped[int] = mapped_column(ForeignKey("question.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    option_order: Mapped[list[str]] = mapped_column(JSON)
    answer: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    points: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class CampaignTextVersion(Base):
    """One version of a campaign's rules or privacy notice, as entrants saw it from
    `created_at` (the campaign page shows the latest one's date)."""

    __tablename__ = "campaign_text_version"
    __table_args__ = (UniqueConstraint("campaign_id", "kind", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # "rules" or "privacy"
    version: Mapped[str] = mapped_column(String(64))
    # The texts of this version: {"entry_conditions", ...} or {"notice": [...]}.
    texts: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64), default="")


class FollowUp(Base):
    """A branch's record of contacting a lead."""

    __tablename__ = "follow_up"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    staff: Mapped[StaffUser | None] = relationship()


class DailyCounter(Base):
    """Funnel counters per day (campaign-page visits, consents)."""

    __tablename__ = "daily_counter"

    day: Mapped[datetime] = mapped_column(Date, primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class IntentCount(Base):
    """Entries per intent answer, counted when the entry completes (quiz/engine/intent_counts.py).

    One row per campaign, Beijing day of registration, branch, question and option: the
    dashboard's per-question charts and branch x answer tables sum a few thousand of these
    instead of reading every entry's answers. Kept exact by atomic upserts in the
    transaction that finishes (or moves) the entry.
    """

    __tablename__ = "intent_count"
    # The key in the dashboard's GROUP BY order, the day last: SQLite then groups while it
    # reads, with no sort (0.25 s down to 0.02 s on 30,000 rows). Without a rowid the
    # key is the table itself, so the count is read from the same b-tree.
    __table_args__ = (
        PrimaryKeyConstraint("campaign_id", "question_key", "branch_id", "option", "day"),
        {"sqlite_with_rowid": False},
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    question_key: Mapped[str] = mapped_column(String(32))
    # 0: no branch yet (未分配). Not a foreign key: a NULL in a primary key would make
    # every unassigned entry its own row, and the upsert could never find it.
    branch_id: Mapped[int] = mapped_column(Integer)
    # The option's text, as Participant.intent keeps it; "" counts the entries that
    # answered the question (a multiple-choice answer adds one per option chosen).
    option: Mapped[str] = mapped_column(Text)
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)


class BranchCount(Base):
    """Entries per campaign, branch, quiz status, follow-up status and Beijing day of
    registration: the dashboard's branch table and funnel (quiz/engine/entry_counts.py)."""

    __tablename__ = "branch_count"
    __table_args__ = (
        PrimaryKeyConstraint("campaign_id", "branch_id", "status", "follow_up_status", "day"),
        {"sqlite_with_rowid": False},
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    branch_id: Mapped[int] = mapped_column(Integer)  # 0: no branch (see IntentCount)
    status: Mapped[str] = mapped_column(String(16))
    follow_up_status: Mapped[str] = mapped_column(String(8))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ProvinceCount(Base):
    """Entries per campaign, province ("": not recognised) and Beijing day of registration:
    the dashboard's province chart and entries per day."""

    __tablename__ = "province_count"
    __table_args__ = (
        PrimaryKeyConstraint("campaign_id", "province_code", "day"),
        {"sqlite_with_rowid": False},
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    province_code: Mapped[str] = mapped_column(String(6))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)


class ScoreCount(Base):
    """Completed entries per campaign, score and Beijing day of registration."""

    __tablename__ = "score_count"
    __table_args__ = (
        PrimaryKeyConstraint("campaign_id", "score", "day"),
        {"sqlite_with_rowid": False},
    )

    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    score: Mapped[int] = mapped_column(Integer)
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)


class StaffUser(Base):
    """A head-office or branch staff account."""

    __tablename__ = "staff_user"
    __table_args__ = (
        CheckConstraint("role IN ('admin', 'analyst', 'branch')", name="role"),
        # Branch staff are scoped to their branch: an active one without a branch has no
        # scope (access.scope_leads shows it nothing, as a second line of defence).
        CheckConstraint(
            "role <> 'branch' OR branch_id IS NOT NULL OR NOT active",
            name="branch_role_has_branch",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branch.id"), nullable=True)
    can_reveal: Mapped[bool] = mapped_column(Boolean, default=False)
    # 查看联系电话: a lead's mobile and landline (tel: links), never the ID number.
    can_call: Mapped[bool] = mapped_column(Boolean, default=False)
    # The campaign the back office last showed this user (the switcher remembers it).
    current_campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id"), nullable=True
    )
    totp_secret_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    recovery_codes: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    # Last accepted TOTP time step: a code is accepted once (no replay within its window).
    totp_last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Bumped on logout-everywhere and password change: older session cookies stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    branch: Mapped[Branch | None] = relationship()


class AuditLog(Base):
    """Append-only record of staff actions."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff_user.id"), nullable=True)
    actor: Mapped[str] = mapped_column(String(64), default="")
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # The campaign the actor was working on (the switcher's choice), for the viewer's filter.
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaign.id"), nullable=True, index=True
    )


class Exclusion(Base):
    """A person head office excludes from the draw (staff, rejected duplicates)."""

    __tablename__ = "exclusion"
    __table_args__ = (UniqueConstraint("campaign_id", "id_hash"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    id_hash: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Draw(Base):
    """A frozen entrant list and, once run, the draw's inputs and result."""

    __tablename__ = "draw"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    # Which of the campaign's draws this is (1 = the campaign file's [draw], 2.. = its
    # [[draws]]): a voided draw and its re-freeze share the number.
    number: Mapped[int] = mapped_column(Integer, default=1, server_default=sql_text("1"))
    status: Mapped[str] = mapped_column(String(16), default="frozen")  # frozen/drawn/voided
    entrant_count: Mapped[int] = mapped_column(Integer)
    entrant_digest: Mapped[str] = mapped_column(String(64))
    randomness_source: Mapped[str] = mapped_column(Text)
    # The regular expression the result had to match in full (None on draws made before).
    randomness_format: Mapped[str | None] = mapped_column(Text, nullable=True)
    randomness_value: Mapped[str | None] = mapped_column(Text, nullable=True)
    algorithm: Mapped[str] = mapped_column(String(8), default="v1")
    tiers: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    frozen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    frozen_by: Mapped[str] = mapped_column(String(64), default="")
    drawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    drawn_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    voided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    void_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Two-person control (quiz/draw/control.py): the first entry of the lottery result is
    # kept only as its SHA-256, so no page or log can show it to the confirmer.
    entry_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entered_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    entered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    confirmed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # "web" (two people) or "console" (quiz draw run/void on the server, shown publicly).
    run_channel: Mapped[str | None] = mapped_column(String(8), nullable=True)
    void_channel: Mapped[str | None] = mapped_column(String(8), nullable=True)
    # Witnesses present at the draw, typed by staff for the printed record.
    notary_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    supervisor_name: Mapped[str | None] = mapped_column(String(100), nullable=True)
    # This draw's own time and written-result example (None: the campaign's draw_at and
    # [draw] example; draws 2.. declare theirs in [[draws]]).
    draw_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    randomness_example: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The imported list this draw froze (list_draw campaigns): the notary record names it.
    list_import_id: Mapped[int | None] = mapped_column(ForeignKey("list_import.id"), nullable=True)

    campaign: Mapped[Campaign] = relationship()
    list_import: Mapped[ListImport | None] = relationship()


class ListImport(Base):
    """One imported entrant list of a list_draw campaign's draw: the file and its figures.

    Rows are written under a 'writing' import and become the draw's list only when the
    last chunk is in ('active'); the list it replaces becomes 'replaced'. So a failed or
    refused import never leaves half a list, and the write lock is held one chunk at a time.
    """

    __tablename__ = "list_import"
    __table_args__ = (
        CheckConstraint("status IN ('writing', 'active', 'replaced', 'failed')", name="status"),
        Index("ix_list_import_draw", "campaign_id", "draw_number", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    draw_number: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="writing")
    file_name: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))
    file_bytes: Mapped[int] = mapped_column(Integer)
    rows_read: Mapped[int] = mapped_column(Integer, default=0)
    rows_accepted: Mapped[int] = mapped_column(Integer, default=0)
    rows_refused: Mapped[int] = mapped_column(Integer, default=0)
    duplicates: Mapped[int] = mapped_column(Integer, default=0)
    imported_by: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ListEntrant(Base):
    """A person on an imported list (list_draw): stored as participants are, the mobile
    and address encrypted, masked forms for lists and the entrant file."""

    __tablename__ = "list_entrant"
    __table_args__ = (
        # Freeze order: file order within the active import. No index on the keyed hashes:
        # their random order made a million-row import write ~20 GB of index pages, and
        # nothing looks a list entrant up by them except the rare erasure request, which
        # scans one campaign. Duplicates of a 客户号 are merged by the import itself.
        Index("ix_list_entrant_order", "import_id", "line_no"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    import_id: Mapped[int] = mapped_column(ForeignKey("list_import.id", ondelete="CASCADE"))
    # The line of the imported file (file order is entry order at the freeze).
    line_no: Mapped[int] = mapped_column(Integer)
    customer_hash: Mapped[str] = mapped_column(String(64))
    customer_masked: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(100))
    name_masked: Mapped[str] = mapped_column(String(100))
    mobile_hash: Mapped[str] = mapped_column(String(64))
    mobile_masked: Mapped[str] = mapped_column(String(16))
    # 客户号, mobile and mailing address as one encrypted JSON object: one Fernet token per
    # row instead of three (encryption is most of a million-row import's time).
    personal_enc: Mapped[bytes] = mapped_column(LargeBinary)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    eligible_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    branch: Mapped[Branch] = relationship()


class DrawVoidRequest(Base):
    """A request to void a draw, waiting for a second head-office account (24 hours)."""

    __tablename__ = "draw_void_request"
    __table_args__ = (
        CheckConstraint("status IN ('pending', 'approved', 'refused', 'closed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # pending (or expired, when past expires_at), approved, refused, or closed (the draw
    # was voided some other way while it waited).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class DrawStaff(Base):
    """Accounts a campaign names for its draws: 'operate' (enter the result, request a void)
    or 'confirm' (confirm the result, approve a void). None named = every active admin."""

    __tablename__ = "draw_staff"
    __table_args__ = (CheckConstraint("duty IN ('operate', 'confirm')", name="duty"),)

    campaign_id: Mapped[int] = mapped_column(
        ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True
    )
    staff_id: Mapped[int] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), primary_key=True
    )
    duty: Mapped[str] = mapped_column(String(8), primary_key=True)


class DrawEntrant(Base):
    """Entry number of each eligible participant (or list entrant) in a frozen list."""

    __tablename__ = "draw_entrant"

    draw_id: Mapped[int] = mapped_column(
        ForeignKey("draw.id", ondelete="CASCADE"), primary_key=True
    )
    entry_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Exactly one of the two: a quiz participant or a person on an imported list.
    participant_id: Mapped[int | None] = mapped_column(ForeignKey("participant.id"), nullable=True)
    list_entrant_id: Mapped[int | None] = mapped_column(
        ForeignKey("list_entrant.id"), nullable=True, index=True
    )
    line: Mapped[str] = mapped_column(String(200))

    # One person's entry numbers (the public entry check). With entry_no in it, SQLite
    # prefers it to the primary key, which would give the ORDER BY but read the list.
    __table_args__ = (
        Index("ix_draw_entrant_person", "participant_id", "draw_id", "entry_no"),
        CheckConstraint(
            "(participant_id IS NULL) <> (list_entrant_id IS NULL)", name="one_entrant"
        ),
    )


class Winner(Base):
    """A winning entry of a draw and its prize fulfilment."""

    __tablename__ = "winner"
    __table_args__ = (
        UniqueConstraint("draw_id", "participant_id"),
        UniqueConstraint("draw_id", "list_entrant_id"),
        CheckConstraint(
            "(participant_id IS NULL) <> (list_entrant_id IS NULL)", name="one_entrant"
        ),
    )

    draw_id: Mapped[int] = mapped_column(
        ForeignKey("draw.id", ondelete="CASCADE"), primary_key=True
    )
    rank: Mapped[int] = mapped_column(Integer, primary_key=True)
    entry_no: Mapped[int] = mapped_column(Integer)
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id"), nullable=True, index=True
    )
    list_entrant_id: Mapped[int | None] = mapped_column(
        ForeignKey("list_entrant.id"), nullable=True, index=True
    )
    tier: Mapped[str] = mapped_column(String(32))
    prize: Mapped[str] = mapped_column(String(200))
    value_yuan: Mapped[int] = mapped_column(Integer)
    shipping_status: Mapped[str] = mapped_column(String(16), default="待寄送")
    shipped_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    tracking_no: Mapped[str | None] = mapped_column(String(64), nullable=True)

    participant: Mapped[Participant | None] = relationship()
    list_entrant: Mapped[ListEntrant | None] = relationship()


class ExportJob(Base):
    """A background export (XLSX): its filters, progress and the file it produced."""

    __tablename__ = "export_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id"), nullable=True, index=True
    )
    format: Mapped[str] = mapped_column(String(8))  # "xlsx" or "csv"
    scope: Mapped[str] = mapped_column(String(16), default="branch")  # "branch" or "all" (ZIP)
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reveal: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending/running/done/failed
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    file_path: Mapped[str | None] = mapped_column(String(300), nullable=True)
    file_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    staff: Mapped[StaffUser | None] = relationship()


class LoginThrottle(Base):
    """Failed sign-ins (and password re-entries) of one account name from one client.

    The lock is per pair: a stranger's wrong passwords lock the stranger out, not the
    account's owner; each failure past the free ones doubles the wait (quiz.staff.auth).
    """

    __tablename__ = "login_throttle"
    __table_args__ = (UniqueConstraint("username", "client"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    client: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class ImportJob(Base):
    """A web import (agents CSV) written in short chunks by a background thread."""

    __tablename__ = "import_job"

    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(
        ForeignKey("staff_user.id"), nullable=True, index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # "agents"
    file_name: Mapped[str] = mapped_column(String(200), default="")
    status: Mapped[str] = mapped_column(
        String(16), default="pending"
    )  # pending/running/done/failed
    total: Mapped[int] = mapped_column(Integer, default=0)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    links_created: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    staff: Mapped[StaffUser | None] = relationship()


class SmsCode(Base):
    """One verification code sent by SMS (quiz.fraud.codes): the keyed hash of the code,
    never the code; the rows also count the sends for the per-mobile, per-client and
    per-campaign limits. The newest row of a mobile is its one live code."""

    __tablename__ = "sms_code"
    __table_args__ = (
        Index("ix_sms_code_mobile", "campaign_id", "mobile_hash", "created_at"),
        Index("ix_sms_code_client", "campaign_id", "client_hash", "created_at"),
        Index("ix_sms_code_campaign", "campaign_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    mobile_hash: Mapped[str] = mapped_column(String(64))
    client_hash: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Set when the code was accepted (a code works once), or when sending failed.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failed: Mapped[bool] = mapped_column(Boolean, default=False)


class WebhookEndpoint(Base):
    """A CRM receiver of one campaign's lead events (quiz.webhooks)."""

    __tablename__ = "webhook_endpoint"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    # The HMAC key, encrypted with the data key (the receiver holds it in clear).
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    # True: the receiver may see full personal data (like a staff member with can_reveal);
    # False: it gets the masked forms the leads list shows.
    reveal: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookDelivery(Base):
    """The outbox: one event for one endpoint, written in the transaction that caused it and
    marked delivered only after the receiver answered 2xx (at-least-once, deduped by event_id)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    endpoint_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_endpoint.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[str] = mapped_column(String(36))
    event_type: Mapped[str] = mapped_column(String(32))
    participant_id: Mapped[int | None] = mapped_column(
        ForeignKey("participant.id", ondelete="SET NULL"), nullable=True
    )
    # What happened, without personal data (that is read at send time, masked per endpoint).
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # A worker's claim while it sends; a killed worker's claim simply runs out.
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # Start of the 24 hours of retries: created_at, or when staff replayed the event.
    retry_from: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    endpoint: Mapped[WebhookEndpoint] = relationship()


class MetricFigure(Base):
    """A daily figure head office imports for a metric the site does not see (网上注册,
    复效 …), per branch; the race (quiz.race) can count it instead of registrations."""

    __tablename__ = "metric_figure"
    __table_args__ = (UniqueConstraint("campaign_id", "metric", "branch_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    metric: Mapped[str] = mapped_column(String(32))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    day: Mapped[date] = mapped_column(Date)
    quantity: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LeadOwner(Base):
    """The agent who owns a lead through the follow-up window (quiz.owners), and the day
    the first contact is due (assigned + the campaign's follow_up_days)."""

    __tablename__ = "lead_owner"
    __table_args__ = (Index("ix_lead_owner_agent_due", "agent_id", "due_on"),)

    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), primary_key=True
    )
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"))
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    due_on: Mapped[date] = mapped_column(Date)
    # The first contact attempt: a lead contacted once is no longer overdue.
    contacted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # "referral": owned by the agent whose link brought it; "manager": assigned by hand.
    source: Mapped[str] = mapped_column(String(16), default="manager")

    agent: Mapped[Agent] = relationship()


class ContactAttempt(Base):
    """An agent's contact attempt on a lead they own, and its outcome (a follow-up status)."""

    __tablename__ = "contact_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    participant_id: Mapped[int] = mapped_column(
        ForeignKey("participant.id", ondelete="CASCADE"), index=True
    )
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"))
    outcome: Mapped[str] = mapped_column(String(8))
    note: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RiskKey(Base):
    """What risk signals compare, one row per entry and kind (quiz.fraud.signals): the
    keyed hash of the folded mailing address, of the device cookie, the client network
    (/24 or /64) and the ID number's region + birth date. Indexed by key, so the check at
    registration counts the entries sharing a key without reading the campaign."""

    __tablename__ = "risk_key"
    __table_args__ = (
        PrimaryKeyConstraint("participant_id", "kind"),
        Index("ix_risk_key_lookup", "campaign_id", "kind", "key", "created_at"),
    )

    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RiskSignal(Base):
    """A reason to doubt an entry: the signal, the cluster of entries it shares it with
    (cluster_key; the same for every entry of the cluster) and a masked description."""

    __tablename__ = "risk_signal"
    __table_args__ = (
        UniqueConstraint("participant_id", "signal"),
        Index("ix_risk_signal_cluster", "campaign_id", "signal", "cluster_key"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id", ondelete="CASCADE"))
    participant_id: Mapped[int] = mapped_column(ForeignKey("participant.id", ondelete="CASCADE"))
    signal: Mapped[str] = mapped_column(String(16))
    cluster_key: Mapped[str] = mapped_column(String(64))
    # Masked, shown to reviewers (e.g. 湖北省武汉市江岸区沿江大道***).
    detail: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class RiskAction(Base):
    """One bulk exclusion from the review queue (or the address rule), kept so that it can
    be undone as a whole before the freeze."""

    __tablename__ = "risk_action"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    signal: Mapped[str] = mapped_column(String(16))
    cluster_key: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(String(200))
    participant_ids: Mapped[list[int]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    undone_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    undone_by: Mapped[str | None] = mapped_column(String(64), nullable=True)


# The largest id any table can hold (PostgreSQL's integer). A bigger number in a URL
# names nothing: without this bound it reached the query and failed there with a 500.
MAX_ID = 2**31 - 1


# --------------------------------------------------------------------------------------
# Children's drawing contest (kind artwork_contest, quiz.artwork)
# --------------------------------------------------------------------------------------

ARTWORK_STAGES = ("entered", "selected", "finalist", "awarded")
ARTWORK_ROUNDS = ("复评", "终评")


class ArtworkInvitation(Base):
    """A 《活动邀请函》 an agent gave a family: a personal link/QR or a printed code."""

    __tablename__ = "artwork_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"), index=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    # Set by the first sign-up; the same family may add brothers and sisters after it.
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    agent: Mapped[Agent] = relationship()
    branch: Mapped[Branch] = relationship()


class ArtworkFamily(Base):
    """The guardian who signed children up: a lead of the inviting agent and branch.

    Name and mobile are encrypted like a participant's; the masked forms serve lists.
    """

    __tablename__ = "artwork_family"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"), index=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    invitation_id: Mapped[int] = mapped_column(ForeignKey("artwork_invitation.id"), unique=True)
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    agent_id: Mapped[int] = mapped_column(ForeignKey("agent.id"), index=True)
    guardian_enc: Mapped[bytes] = mapped_column(LargeBinary)
    guardian_masked: Mapped[str] = mapped_column(String(32))
    mobile_enc: Mapped[bytes] = mapped_column(LargeBinary)
    mobile_hash: Mapped[str] = mapped_column(String(64), index=True)
    mobile_masked: Mapped[str] = mapped_column(String(16))
    relation: Mapped[str] = mapped_column(String(8))
    # Separate consents (PIPL art. 31 for a child under 14; the copyright licence and the
    # keeping of the work; publishing the work with the masked name in the gallery).
    consent_version: Mapped[str] = mapped_column(String(64))
    consent_child_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consent_licence_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consent_publish: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)

    invitation: Mapped[ArtworkInvitation] = relationship()
    branch: Mapped[Branch] = relationship()
    agent: Mapped[Agent] = relationship()
    children: Mapped[list[ArtworkChild]] = relationship(
        back_populates="family", order_by="ArtworkChild.id", cascade="all, delete-orphan"
    )


class ArtworkChild(Base):
    """A child taking part: the name encrypted, the age and group on the reference date only
    (the birth date itself is not stored)."""

    __tablename__ = "artwork_child"
    __table_args__ = (Index("ix_artwork_child_campaign_group", "campaign_id", "age_group"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    family_id: Mapped[int] = mapped_column(
        ForeignKey("artwork_family.id", ondelete="CASCADE"), index=True
    )
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    name_enc: Mapped[bytes] = mapped_column(LargeBinary)
    name_masked: Mapped[str] = mapped_column(String(32))
    age: Mapped[int] = mapped_column(Integer)
    age_group: Mapped[str] = mapped_column(String(16))
    school_enc: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    checked_in_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    checked_in_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    family: Mapped[ArtworkFamily] = relationship(back_populates="children")
    work: Mapped[ArtworkWork | None] = relationship(back_populates="child", uselist=False)


class ArtworkWork(Base):
    """One child's drawing (one per child): the re-encoded picture and its way to an award."""

    __tablename__ = "artwork_work"
    __table_args__ = (
        CheckConstraint("stage IN ('entered', 'selected', 'finalist', 'awarded')", name="stage"),
        Index("ix_artwork_work_campaign_group_stage", "campaign_id", "age_group", "stage"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    child_id: Mapped[int] = mapped_column(
        ForeignKey("artwork_child.id", ondelete="CASCADE"), unique=True
    )
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaign.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branch.id"), index=True)
    age_group: Mapped[str] = mapped_column(String(16))
    image_key: Mapped[str] = mapped_column(String(32))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    uploaded_by: Mapped[str] = mapped_column(String(64))  # a staff username or "监护人"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # entered -> selected (branch 初评) -> finalist (after 复评) -> awarded (终评 confirmed)
    stage: Mapped[str] = mapped_column(String(16), default="entered")
    award: Mapped[str | None] = mapped_column(String(16), nullable=True)
    award_rank: Mapped[int | None] = mapped_column(Integer, nullable=True)

    child: Mapped[ArtworkChild] = relationship(back_populates="work")
    branch: Mapped[Branch] = relationship()


class ArtworkScore(Base):
    """One judge's 1-10 score of one work in one round."""

    __tablename__ = "artwork_score"
    __table_args__ = (
        UniqueConstraint("work_id", "round", "judge_id"),
        CheckConstraint("score BETWEEN 1 AND 10", name="score"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    work_id: Mapped[int] = mapped_column(ForeignKey("artwork_work.id", ondelete="CASCADE"))
    round: Mapped[str] = mapped_column(String(8))
    judge_id: Mapped[int] = mapped_column(ForeignKey("staff_user.id"), index=True)
    score: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
