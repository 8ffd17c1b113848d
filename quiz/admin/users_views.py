"""User management (admins only): list, create, edit, reset password, reset second factor."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from quiz.admin import bp
from quiz.admin.access import admin_required, current_staff
from quiz.admin.forms import ActionForm, ResetPasswordForm, UserCreateForm, UserEditForm
from quiz.models import Branch, StaffUser
from quiz.staff import auth
from quiz.web.request import db

ROLE_ORDER = {"admin": 0, "analyst": 1, "branch": 2}


def _branches() -> list[tuple[int, str]]:
    rows = db().execute(select(Branch.id, Branch.name, Branch.code).order_by(Branch.code))
    return [(row.id, f"{row.name}({row.code})") for row in rows]


def _user_or_404(user_id: int) -> StaffUser:
    user = db().get(StaffUser, user_id)
    if user is None:
        abort(404)
    return user


def _show_error(form: Any, exc: auth.AuthError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is None:
        field = form.role
    field.errors = [*field.errors, exc.message]


@bp.get("/users")
@admin_required
def users() -> ResponseReturnValue:
    """Every staff account, head office first."""
    rows = db().scalars(select(StaffUser).options(joinedload(StaffUser.branch))).all()
    rows = sorted(rows, key=lambda u: (ROLE_ORDER.get(u.role, 9), u.username))
    return render_template(
        "admin/users.html",
        users=rows,
        role_labels=auth.ROLE_LABELS,
        locked=auth.locked_names(db()),
    )


@bp.route("/users/new", methods=["GET", "POST"])
@admin_required
def user_new() -> ResponseReturnValue:
    """Create an account with an initial password; it enrols its second factor at first login."""
    form = UserCreateForm()
    form.set_branches(_branches())
    if request.method == "GET":
        form.active.data = True
        return render_template("admin/user_form.html", form=form, user=None)
    if not form.validate_on_submit():
        return render_template("admin/user_form.html", form=form, user=None), 422
    try:
        user = auth.create_user(
            db(),
            form.username.data or "",
            form.password.data or "",
            form.role.data or "",
            branch_id=form.branch_value(),
            can_reveal=bool(form.can_reveal.data),
            can_call=bool(form.can_call.data),
            display_name=form.display_name.data or "",
            actor=current_staff(),
            ip=request.remote_addr,
        )
    except auth.AuthError as exc:
        db().rollback()
        _show_error(form, exc)
        return render_template("admin/user_form.html", form=form, user=None), 422
    db().commit()
    flash(f"已创建用户 {user.username}。请将初始密码当面或通过安全渠道告知本人。", "success")
    return redirect(url_for("admin.users"))


def _edit_page(user: StaffUser, status: int = 200, **forms: Any) -> ResponseReturnValue:
    context: dict[str, Any] = {
        "password_form": ResetPasswordForm(formdata=None),
        "action_form": ActionForm(formdata=None),
        **forms,
    }
    if "form" not in context:
        form = UserEditForm(formdata=None, obj=user)
        form.set_branches(_branches())
        form.branch_id.data = str(user.branch_id) if user.branch_id else ""
        context["form"] = form
    return render_template(
        "admin/user_form.html",
        user=user,
        role_labels=auth.ROLE_LABELS,
        is_locked=user.username in auth.locked_names(db()),
        **context,
    ), status


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
@admin_required
def user_edit(user_id: int) -> ResponseReturnValue:
    """Change role, branch, active, can_reveal, display name."""
    user = _user_or_404(user_id)
    if request.method == "GET":
        return _edit_page(user)
    form = UserEditForm()
    form.set_branches(_branches())
    if not form.validate_on_submit():
        return _edit_page(user, 422, form=form)
    changes = auth.UserChanges(
        display_name=form.display_name.data or "",
        role=form.role.data or "",
        branch_id=form.branch_value(),
        active=bool(form.active.data),
        can_reveal=bool(form.can_reveal.data),
        can_call=bool(form.can_call.data),
    )
    try:
        diff = auth.update_user(db(), user, changes, actor=current_staff(), ip=request.remote_addr)
    except auth.AuthError as exc:
        db().rollback()
        _show_error(form, exc)
        return _edit_page(user, 422, form=form)
    db().commit()
    flash("已保存。" if diff else "没有改动。", "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/password")
@admin_required
def user_reset_password(user_id: int) -> ResponseReturnValue:
    """Set a new password for the user; their sessions end and a lock is lifted."""
    user = _user_or_404(user_id)
    form = ResetPasswordForm()
    if not form.validate_on_submit():
        return _edit_page(user, 422, password_form=form)
    try:
        auth.admin_reset_password(
            db(), user, form.password.data or "", actor=current_staff(), ip=request.remote_addr
        )
    except auth.AuthError as exc:
        db().rollback()
        form.password.errors = [exc.message]
        return _edit_page(user, 422, password_form=form)
    db().commit()
    flash(f"已为 {user.username} 设置新密码,其所有登录已退出。", "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))


@bp.post("/users/<int:user_id>/totp-reset")
@admin_required
def user_reset_totp(user_id: int) -> ResponseReturnValue:
    """Forget the user's second factor (lost phone): they enrol again at next login."""
    user = _user_or_404(user_id)
    if not ActionForm().validate_on_submit():
        abort(400)
    auth.admin_reset_totp(db(), user, actor=current_staff(), ip=request.remote_addr)
    db().commit()
    flash(f"已重置 {user.username} 的两步验证,下次登录时需重新绑定。", "success")
    return redirect(url_for("admin.user_edit", user_id=user.id))
