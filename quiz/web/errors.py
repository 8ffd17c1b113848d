"""Error pages in Chinese; 4xx for anything the client did wrong, never a bare 500."""

from __future__ import annotations

import logging

from flask import Flask, g, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from quiz.web.logging_setup import bare_field

log = logging.getLogger("quiz.errors")

MESSAGES = {
    400: "请求无法处理,请返回重试。",
    401: "请先登录。",
    403: "您没有权限访问此页面。",
    404: "页面不存在。",
    405: "不支持此操作方式。",
    409: "操作冲突,请刷新页面后重试。",
    413: "提交的内容过大。",
    415: "不支持的提交格式。",
    422: "提交的内容有误,请检查后重试。",
    429: "操作过于频繁,请稍后再试。",
    500: "系统繁忙,请稍后再试。",
    503: "服务暂时不可用,请稍后再试。",
}


def render_error(code: int, message: str | None = None) -> tuple[str, int]:
    staff = request.path.startswith("/admin")
    return (
        render_template(
            "error.html",
            code=code,
            message=message or MESSAGES.get(code, MESSAGES[400]),
            staff=staff,
        ),
        code,
    )


def too_large(endpoint: str | None) -> tuple[str, int]:
    """The 413 page; an upload form that has a command for bigger files names it."""
    if endpoint == "admin.referrals_agents":
        from quiz.referrals.import_jobs import CLI_HINT

        return render_error(413, f"文件超过网页上传的大小上限(2 MB)。{CLI_HINT}")
    if endpoint == "admin.contest_roster":
        return render_error(
            413,
            "文件超过网页上传的大小上限(2 MB)。名单请分机构上传,"
            "或由系统管理员用命令导入:quiz contest import-roster 文件名 --campaign 活动地址",
        )
    return render_error(413)


def register(app: Flask) -> None:
    """Attach the handlers."""

    @app.errorhandler(CSRFError)
    def _csrf(_exc: CSRFError) -> tuple[str, int]:
        return render_error(400, "页面已过期或提交无效,请刷新页面后重新提交。")

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> tuple[str, int]:
        code = exc.code or 500
        if code == 413:
            return too_large(request.endpoint)
        return render_error(code)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[str, int]:
        log.exception(
            "unhandled error on %s %s", bare_field(request.method), bare_field(request.path)
        )
        # The page itself reads the database (the signed-in user for the staff menu): a
        # session left mid-failure would raise again and lose the Chinese error page.
        session = g.get("db")
        if session is not None:
            try:
                session.rollback()
            except Exception:  # noqa: BLE001 - the page must render whatever the database does
                log.exception("rollback after the error failed")
        return render_error(500)
