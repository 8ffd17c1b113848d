"""The editor's phone preview: a draft campaign's public pages, by signed token.

The staff editor frames these pages 390 px wide (quiz/web/preview.py issues the token).
They render the real templates with the draft's texts and questions; nothing is stored,
forms post nowhere (the page's CSP has form-action 'none').
"""

from __future__ import annotations

from flask import abort, render_template
from flask.typing import ResponseReturnValue

from quiz.campaign.lifecycle import window_state
from quiz.contest.paper import settings_of
from quiz.engine.bank import question_bank
from quiz.engine.sheets import Outcome, SheetItem
from quiz.engine.shuffle import shown_options
from quiz.fraud.codes import sms_required
from quiz.models import Campaign
from quiz.public import bp
from quiz.public.contest_views import SignInForm
from quiz.public.forms import ConsentForm, RegistrationForm
from quiz.public.list_draw_views import render_list_draw
from quiz.web.preview import PREVIEW_CSP, campaign_of_token, preview_pages
from quiz.web.request import db


# Unscoped: the token names the campaign (a draft has no public /c/<slug>/ yet).
@bp.get("/preview/<token>/<page>", unscoped=True)
def preview(token: str, page: str) -> ResponseReturnValue:
    campaign_id = campaign_of_token(token)
    campaign = db().get(Campaign, campaign_id) if campaign_id is not None else None
    if campaign is None or page not in preview_pages(campaign.kind):
        abort(404)
    bank = question_bank(db(), campaign.id)
    # The draft is shown as it will be once open, whatever its dates.
    state = "open" if window_state(campaign) == "upcoming" else window_state(campaign)
    if page == "campaign" and campaign.kind == "list_draw":
        html = render_list_draw(campaign, state)
    elif page == "campaign" and campaign.kind == "staff_contest":
        html = render_template(
            "contest/sign_in.html",
            campaign=campaign,
            form=SignInForm(formdata=None),
            state=state,
            sms=sms_required(campaign),
            settings=settings_of(campaign),
        )
    elif page == "campaign":
        html = render_template(
            "public/campaign.html", campaign=campaign, state=state, form=ConsentForm()
        )
    elif page == "register":
        html = render_template("public/register.html", form=RegistrationForm(), campaign=campaign)
    elif page == "privacy":
        html = render_template("public/privacy.html", campaign=campaign)
    elif page in ("question", "intent"):
        ids = bank.knowledge[:1] if page == "question" else bank.intent[:1]
        if not ids:
            abort(404)
        question = bank.by_id[ids[0]]
        total = int(campaign.content.get("questions_per_participant", 5)) + len(bank.intent)
        number = 1 if page == "question" else total - len(bank.intent) + 1
        html = render_template(
            "public/question.html",
            campaign=campaign,
            question=question,
            options=shown_options("preview", question.key, question.options),
            number=number,
            total=total,
            answered=number - 1,
            error=None,
            state=state,
        )
    else:
        count = int(campaign.content.get("questions_per_participant", 5))
        reviews = []
        for n, qid in enumerate(bank.knowledge[:count], start=1):
            q = bank.by_id[qid]
            # One answer wrong, the others right, so both looks are previewed.
            answer = list(q.correct or []) if n > 1 else [q.options[-1]["key"]]
            right = answer == sorted(q.correct or [])
            reviews.append((SheetItem(n, n, qid, answer, right), q))
        score = sum(1 for it, _ in reviews if it.is_correct)
        outcome = Outcome(score, len(reviews), "139****0000", tuple(reviews))
        html = render_template("public/result.html", campaign=campaign, outcome=outcome)
    return (
        html,
        200,
        {
            "Content-Security-Policy": PREVIEW_CSP,
            "X-Frame-Options": "SAMEORIGIN",
            "X-Robots-Tag": "noindex",
        },
    )
