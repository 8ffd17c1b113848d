"""Campaign kinds: the extension point where each kind declares its flow.

A kind names its Chinese label, the public steps it has (the endpoints of the public
blueprint a campaign of that kind answers) and the staff pages it has. Only prize_quiz
has a flow today; the other kinds are registered with none, so a campaign of such a
kind is listed and managed but never exposes the quiz flow. The issue that builds a
kind fills in its entry here and the views it names.
"""

from __future__ import annotations

from dataclasses import dataclass

from quiz.models import CAMPAIGN_KINDS


@dataclass(frozen=True)
class Kind:
    """What a campaign kind shows the public and the staff."""

    code: str
    label: str
    # Public steps: short names of the public flow's pages (see PUBLIC_STEP_ENDPOINTS).
    public_steps: frozenset[str]
    # Staff pages: short names of back-office sections (see STAFF_PAGE_ENDPOINTS).
    staff_pages: frozenset[str]

    @property
    def has_flow(self) -> bool:
        """True once the kind has a public flow (the others are registered, not built)."""
        return bool(self.public_steps)


# The public steps and staff pages a kind can have, by short name. Common parts (campaign
# page, privacy notice, draw and winners, referral links) are steps like the others: a
# kind without a draw leaves "draw" out.
PUBLIC_STEPS = ("campaign", "consent", "register", "quiz", "result", "draw", "referral")
STAFF_PAGES = ("dashboard", "leads", "exports", "referrals", "leaderboard", "draw", "audit")

_PRIZE_QUIZ = Kind(
    code="prize_quiz",
    label="有奖问答",
    public_steps=frozenset(PUBLIC_STEPS),
    staff_pages=frozenset(STAFF_PAGES),
)

# Pages every kind has. The quiz's 数据概览 (funnel, regions, scores, intent) is the prize
# quiz's alone: a campaign of another kind opens on its own page (see HOME_PAGES).
_COMMON = frozenset({"audit"})

KINDS: dict[str, Kind] = {
    kind.code: kind
    for kind in (
        _PRIZE_QUIZ,
        # Entrants come from an imported list: a public page and the draw, no quiz.
        Kind("list_draw", "名单抽奖", frozenset({"campaign", "draw"}), _COMMON | {"draw"}),
        Kind(
            "staff_contest",
            "员工知识竞赛",
            frozenset({"campaign", "contest"}),
            _COMMON | {"contest"},
        ),
        # Children's drawing contest: quiz/artwork, public/artwork_views, admin/artwork_views.
        Kind("artwork_contest", "作品征集评选", frozenset({"artwork"}), _COMMON | {"artwork"}),
    )
}
assert tuple(KINDS) == CAMPAIGN_KINDS, "quiz.models.CAMPAIGN_KINDS and KINDS must agree"

DEFAULT_KIND = "prize_quiz"


def kind_of(code: str) -> Kind:
    """The kind registered under `code` (KeyError for an unknown one)."""
    return KINDS[code]


def label(code: str) -> str:
    """The Chinese label of a kind, or the code itself for an unknown one."""
    kind = KINDS.get(code)
    return kind.label if kind else code


def has_public_step(code: str, step: str) -> bool:
    """Whether campaigns of kind `code` have the public step `step`."""
    kind = KINDS.get(code)
    return kind is not None and step in kind.public_steps


# Where staff land on a campaign of a kind, in order of preference.
HOME_PAGES = ("dashboard", "contest", "artwork", "draw")


def home_page(code: str) -> str:
    """The staff page a campaign of kind `code` opens on."""
    kind = KINDS.get(code)
    pages = kind.staff_pages if kind else frozenset()
    return next((page for page in HOME_PAGES if page in pages), "dashboard")


def has_staff_page(code: str, page: str) -> bool:
    """Whether campaigns of kind `code` have the staff page `page`."""
    kind = KINDS.get(code)
    return kind is not None and page in kind.staff_pages
