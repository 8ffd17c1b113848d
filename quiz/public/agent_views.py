"""An agent's own leads on a phone, through the personal link /a/<token> (quiz.owners):
call, record the outcome. Every visit and every outcome is audited under the agent."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from wtforms import SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length

from quiz.clock import CHINA
from quiz.db import utcnow
from quiz.models import Agent, Participant
from quiz.owners import service as owners
from quiz.public import bp
from quiz.staff import audit
from quiz.web.forms import SafeForm
from quiz.web.request import database, db, protector

OUTCOMES = ("已联系", "已拜访", "已成交", "无效")


class OutcomeForm(SafeForm):
    outcome = SelectField(
        "联系结果",
        choices=[SelectChoice(o, o) for o in OUTCOMES],
        invalid_choice_message="请选择联系结果。",
    )
    note = TextAreaField("备注(选填)", [Length(max=500, message="备注不能超过500个字。")])


def _agent(token: str) -> Agent:
    agent = owners.agent_from_token(db(), protector().lookup_hash, token)
    if agent is None:
        abort(404)
    return agent


def _page(agent: Agent, token: str, form: OutcomeForm, status: int = 200) -> ResponseReturnValue:
    today = utcnow().astimezone(CHINA).date()
    rows = []
    for participant, owner in owners.owned_leads(db(), agent.id):
        mobile = None
        if not participant.contact_opt_out and participant.anonymised_at is None:
            mobile = protector().decrypt(participant.mobile_enc)
        rows.append(
            (participant, owner, mobile, owner.contacted_at is None and owner.due_on < today)
        )
    # The visit's audit line in a write transaction of its own: a GET reads through the
    # public pages' per-statement session, which SQLite could not turn into a writer while
    # another process wrote ("database is locked", a 500 under load). A POST's own write
    # transaction is ended first, so this one does not wait for it.
    db().commit()
    with database().transaction() as session:
        audit.record(
            session,
            None,
            "agent.leads_view",
            f"agent:{agent.id}",
            {"leads": len(rows)},
            request.remote_addr,
            actor_name=f"业务人员 {agent.code}",
        )
    return render_template(
        "public/agent_leads.html", agent=agent, token=token, rows=rows, form=form, campaign=None
    ), status


@bp.get("/a/<token>", unscoped=True)
def agent_leads(token: str) -> ResponseReturnValue:
    return _page(_agent(token), token, OutcomeForm(formdata=None))


@bp.post("/a/<token>/<int:participant_id>", unscoped=True)
def agent_outcome(token: str, participant_id: int) -> ResponseReturnValue:
    agent = _agent(token)
    participant = db().get(Participant, participant_id)
    form = OutcomeForm()
    if participant is None:
        abort(404)
    if not form.validate():
        return _page(agent, token, form, 422)
    try:
        owners.record_attempt(db(), agent, participant, form.outcome.data, form.note.data or "")
    except owners.OwnerError as exc:
        form.outcome.errors = [*form.outcome.errors, str(exc)]
        db().rollback()
        return _page(agent, token, form, 422)
    audit.record(
        db(),
        None,
        "agent.outcome",
        f"lead:{participant.id}",
        {"outcome": form.outcome.data},
        request.remote_addr,
        actor_name=f"业务人员 {agent.code}",
    )
    db().commit()
    flash(f"已记录:{participant.name} {form.outcome.data}")
    return redirect(url_for("public.agent_leads", token=token))
