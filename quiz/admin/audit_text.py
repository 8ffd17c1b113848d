"""The audit log in plain Chinese: each entry's action, object and details as words.

The stored entry stays as written (action codes, `kind:id` targets, JSON details); this
module only reads it, for the audit page, which keeps the raw JSON behind a 详情 toggle.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.fraud.signals import SIGNALS
from quiz.leads.service import describe_filters
from quiz.models import AuditLog, Branch

ACTION_LABELS = {
    "login": "登录",
    "login_failed": "登录失败",
    "totp_failed": "两步验证失败",
    "totp_enrol": "绑定两步验证",
    "recovery_code_used": "使用恢复码",
    "recovery_codes_new": "重新生成恢复码",
    "logout": "退出登录",
    "logout_all": "退出所有设备",
    "password_change": "修改密码",
    "user_create": "创建用户",
    "user_update": "修改用户",
    "user_deactivate": "停用用户",
    "user_reset_password": "重置用户密码",
    "user_reset_totp": "重置两步验证",
    "export": "导出线索",
    "webhook.create": "新增CRM对接地址",
    "race.figures_import": "导入竞赛每日数据",
    "agent.leads_view": "业务人员查看本人客户",
    "agent.outcome": "业务人员记录联系结果",
    "owners.assign": "分配线索给业务人员",
    "webhook.toggle": "启用/停用CRM对接地址",
    "webhook.replay": "重新发送CRM事件",
    "reveal": "查看完整个人信息",
    "contact_view": "查看联系电话",
    "lead.assign": "分配线索",
    "lead.place": "指定线索机构",
    "branch.create": "新建机构",
    "branch.update": "修改机构",
    "branches.reassign": "按地址重新分配线索",
    "route.set": "设置地址路由",
    "route.remove": "删除地址路由",
    "artwork.invite": "发放绘画比赛邀请函",
    "artwork.photo": "拍照上传参赛作品",
    "artwork.select": "机构初评选送作品",
    "artwork.score": "评委评分",
    "artwork.advance": "结束复评(入围终评)",
    "artwork.awards": "确认绘画比赛奖项",
    "artwork.export": "导出绘画比赛家庭和奖项",
    "artwork.purge": "删除到期的绘画比赛信息",
    "artwork.erase": "按请求删除绘画比赛家庭信息",
    "draw.freeze": "冻结抽奖名单",
    "draw.run": "执行抽奖",
    "draw.void": "作废抽奖",
    "draw.enter": "录入开奖结果(待另一人确认)",
    "draw.entry_withdraw": "撤回录入的开奖结果",
    "draw.entry_mismatch": "两次录入不一致(录入作废)",
    "draw.confirm": "确认开奖结果(两次录入一致)",
    "draw.void_request": "申请作废抽奖(待另一人批准)",
    "draw.void_approve": "批准作废抽奖",
    "draw.void_refuse": "拒绝作废抽奖",
    "draw.accounts": "设置抽奖操作人",
    "draw.witnesses": "填写抽奖见证人",
    "draw.exclude": "排除抽奖资格",
    "risk.exclude": "风控审核:批量排除",
    "risk.undo": "风控审核:撤销批量排除",
    "risk.recompute": "风控审核:重新计算风险信号",
    "draw.shipping": "更新奖品寄送",
    "draw.winners_export": "导出中奖名单",
    "draw.list_import": "导入抽奖名单",
    "draw.list_import_abandoned": "清除中断的名单导入",
    "referrals.branch_links": "生成机构推广链接",
    "referrals.channel_create": "新建推广渠道",
    "referrals.agents_import": "导入业务员",
    "referrals.export": "导出推广数据",
    "referrals.posters_zip": "下载推广海报",
    "leaderboard.export": "导出机构排行",
    "contest.roster_import": "导入竞赛参赛名单",
    "contest.invitations": "发放竞赛邀请码",
    "keys.rotate": "轮换加密密钥",
    "retention.purge": "清除过期个人信息",
    "list_entrant.delete": "删除名单人员信息",
    "participant.delete": "删除参与者信息",
    "database.backup": "备份数据库",
    "campaign.create": "新建活动",
    "campaign.edit": "修改活动",
    "campaign.window": "修改活动时间",
    "campaign.text_version": "更新规则版本",
    "campaign.publish": "发布活动",
}
_OBJECT_KINDS = {
    "participant": "线索",
    "risk_action": "风控排除操作",
    "user": "用户",
    "draw": "抽奖",
    "winner": "中奖记录",
    "branch": "机构",
    "route": "地址路由",
    "export_job": "导出任务",
    "campaign": "活动",
    "list_import": "名单导入",
}
_REASONS = {"password": "密码错误", "locked": "账户已锁定", "unknown": "用户名不存在"}
_FIELDS = {"id_number": "身份证号码", "mobile": "手机号码", "landline": "固定电话"}
_KEYS = {
    "rows": "条数",
    "signal": "风险信号",
    "entries": "人数",
    "flagged": "有风险信号的人数",
    "reason": "原因",
    "second_factor": "验证方式",
    "stage": "环节",
    "role": "角色",
    "branch_id": "机构",
    "can_reveal": "可查看完整信息",
    "can_call": "可查看联系电话",
    "active": "账户有效",
    "display_name": "姓名",
    "moved": "移动",
    "unassigned": "未分配",
    "created": "新建",
    "basis": "口径",
    "order": "排序",
    "bytes": "字节",
    "entered_by": "录入人",
    "confirmed_by": "确认人",
    "requested_by": "申请人",
    "request": "作废申请编号",
    "operators": "录入人",
    "confirmers": "确认人",
    "notary": "公证员",
    "supervisor": "监督人",
    "channel": "执行方式",
    "previous_status": "原状态",
    "slug": "活动地址",
    "from": "来源",
    "opens_at": "开始时间",
    "closes_at": "结束时间",
    "draw_at": "抽奖时间",
    "status": "状态",
    "rules": "活动规则版本",
    "privacy": "个人信息处理规则版本",
    "draw_number": "第几次抽奖",
    "file_name": "文件名",
    "file_sha256": "文件SHA-256",
    "rows_read": "读取行数",
    "accepted": "导入人数",
    "refused": "拒绝行数",
    "duplicates": "合并重复",
    "replaced_import": "替换的导入",
}
_STATUSES = {"draft": "草稿", "published": "已发布", "archived": "已归档"}


@dataclass(frozen=True)
class AuditLine:
    """One entry in words."""

    action: str
    target: str
    details: list[str]


def _word(value: Any) -> str:
    if isinstance(value, bool):
        return "是" if value else "否"
    if value is None:
        return "无"
    return str(value)


def _branch_name(session: Session, branch_id: Any) -> str:
    if branch_id is None:
        return "无"
    name = session.scalar(select(Branch.name).where(Branch.id == branch_id))
    return name or str(branch_id)


def _target(session: Session, entry: AuditLog) -> str:
    kind, _, rest = (entry.target or "").partition(":")
    if entry.action == "export":
        branch_id = (entry.detail or {}).get("filters", {}).get("branch_id")
        whose = _branch_name(session, branch_id) if branch_id is not None else "全部机构"
        return whose if kind != "export_job" else f"{whose}(导出任务 {rest})"
    if kind in _OBJECT_KINDS and rest:
        return f"{_OBJECT_KINDS[kind]} {rest}"
    return entry.target or "-"


def _details(session: Session, entry: AuditLog) -> list[str]:
    detail: Mapping[str, Any] = entry.detail or {}
    words: list[str] = []
    for key, value in detail.items():
        if key == "filters" and isinstance(value, Mapping):
            words.append("筛选:" + "、".join(describe_filters(session, value)))
        elif key == "full_personal_data":
            words.append("含完整个人信息" if value else "个人信息部分隐藏")
        elif key == "format":
            words.append("Excel" if value == "xlsx" else str(value).upper())
        elif key == "scope":
            words.append("按机构分文件" if value == "all" else "单个文件")
        elif key == "fields" and isinstance(value, list):
            words.append("查看:" + "、".join(_FIELDS.get(str(f), str(f)) for f in value))
        elif key == "reason":
            words.append("原因:" + _REASONS.get(str(value), str(value)))
        elif key == "changes" and isinstance(value, Mapping):
            for field, change in value.items():
                before, after = (list(change) + [None, None])[:2]
                if field == "branch_id":
                    before, after = _branch_name(session, before), _branch_name(session, after)
                label = _KEYS.get(field, field)
                words.append(f"{label}:{_word(before)} → {_word(after)}")
        elif key == "channel":
            words.append("执行方式:" + ("服务器控制台" if value == "console" else "网页(两人操作)"))
        elif key in ("operators", "confirmers") and isinstance(value, list):
            words.append(f"{_KEYS[key]}:" + "、".join(map(str, value)))
        elif key == "branch_id":
            words.append("机构:" + _branch_name(session, value))
        elif key == "signal":
            words.append("风险信号:" + SIGNALS.get(str(value), "同一邮寄地址限一人获奖"))
        elif key == "before" and isinstance(value, Mapping):
            # Campaign edits: each changed setting as before -> after.
            after = detail.get("after") if isinstance(detail.get("after"), Mapping) else {}
            for field, old in value.items():
                new = after.get(field)
                if old != new:
                    old, new = _STATUSES.get(str(old), old), _STATUSES.get(str(new), new)
                    words.append(f"{_KEYS.get(field, field)}:{_word(old)} → {_word(new)}")
        elif key in ("after", "window"):
            continue  # shown with "before"; the window of a publish is in the campaign
        elif key == "from":
            kind, _, name = str(value).partition(":")
            words.append(("复制自 " if kind == "copy" else "模板 ") + name)
        else:
            words.append(f"{_KEYS.get(key, key)}:{_word(value)}")
    return words


def describe(session: Session, entry: AuditLog) -> AuditLine:
    """The entry's action, object and details in Chinese words."""
    return AuditLine(
        ACTION_LABELS.get(entry.action, entry.action),
        _target(session, entry),
        _details(session, entry),
    )
