"""Branch table and mapping as CSV: validation by row, all-or-nothing, round trips, CLI."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select

from quiz.branches.service import (
    BranchData,
    BranchError,
    CsvImportError,
    export_branches,
    export_routes,
    import_branches,
    import_routes,
    save_branch,
    set_route,
)
from quiz.cli.branches import branches_group
from quiz.models import AuditLog, Branch, BranchRoute, Campaign
from tests.factories import make_participant


def csv_bytes(text: str, bom: bool = False) -> bytes:
    return ("\ufeff" if bom else "").encode() + text.encode("utf-8")


def count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def by_code(session, code: str) -> Branch:
    return session.scalars(select(Branch).where(Branch.code == code)).one()


@pytest.mark.parametrize("bom", [True, False])
def test_import_branches_creates_updates_and_links_parents(session, bom):
    data = csv_bytes(
        "code,name,level,parent_code,contact,target\n"
        "WH,武汉中心支公司,中心支公司,B42,王经理 027-1,5000\n"  # parent already exists
        "WH01,江岸支公司,支公司,WH,,\n"
        "B42,湖北分公司,分公司,HO,李经理,20000\n",  # update of a seeded branch
        bom,
    )
    assert import_branches(session, data) == (2, 1)
    wh, wh01, b42 = by_code(session, "WH"), by_code(session, "WH01"), by_code(session, "B42")
    assert wh.parent_id == b42.id and wh01.parent_id == wh.id
    assert (wh.level, wh.contact, wh.target) == ("中心支公司", "王经理 027-1", 5000)
    assert (b42.contact, b42.target) == ("李经理", 20000)
    assert wh01.target is None and wh01.contact is None


def test_import_branches_reports_every_bad_row_and_writes_nothing(session):
    before = count(session, Branch)
    data = csv_bytes(
        "code,name,level,parent_code,target\n"
        "X1,甲,支公司,NOPE,\n"
        "X2,乙,县公司,,\n"
        "X3,丙,支公司,,many\n"
        "X4,,支公司,,\n"
        "X5,戊,支公司,,\n"
        "X5,戊二,支公司,,\n"
        "bad code,己,支公司,,\n"
    )
    with pytest.raises(CsvImportError) as info:
        import_branches(session, data)
    text = "\n".join(info.value.errors)
    assert "row 2: unknown parent branch code 'NOPE'" in text
    assert "row 3: level '县公司'" in text
    assert "row 4: target 'many' is not a whole number" in text
    assert "row 5: name is required" in text
    assert "row 7: duplicate code 'X5' (first on row 6)" in text
    assert "row 8: code 'bad code'" in text
    assert count(session, Branch) == before


def test_import_branches_bounds_targets_and_refuses_nul(session):
    """Targets the database could not hold, or that int() of "²" would crash on, and a
    file with NUL bytes (an .xlsx picked by mistake) are refused row by row."""
    before = count(session, Branch)
    data = csv_bytes(
        "code,name,target\nY1,甲,99999999999999999999\nY2,乙,²\nY3,丙,100000001\nY4,丁,100000000\n"
    )
    with pytest.raises(CsvImportError) as info:
        import_branches(session, data)
    text = "\n".join(info.value.errors)
    assert "row 2: target must be a whole number from 0 to 100000000" in text
    assert "row 3: target '²' is not a whole number" in text
    assert "row 4: target must be a whole number from 0 to 100000000" in text
    assert "row 5" not in text
    with pytest.raises(CsvImportError, match="NUL bytes"):
        import_branches(session, csv_bytes("code,name\nY5,x\x00y\n"))
    assert count(session, Branch) == before


def test_import_branches_refuses_parent_loops(session):
    data = csv_bytes("code,name,level,parent_code\nA,甲,支公司,B\nB,乙,支公司,A\n")
    with pytest.raises(CsvImportError, match="row 2: parent chain of 'A' loops"):
        import_branches(session, data)


def test_import_refuses_missing_columns_and_non_utf8(session):
    with pytest.raises(CsvImportError, match="row 1: missing column"):
        import_branches(session, csv_bytes("name,level\n甲,支公司\n"))
    with pytest.raises(CsvImportError, match="not UTF-8"):
        import_branches(session, "code,name\nA,湖北\n".encode("gbk"))
    with pytest.raises(CsvImportError, match="row 1: unknown column"):
        import_routes(session, csv_bytes("province_code,city_code,branch_code,note\n"))


def test_export_then_import_branches_is_a_no_op(session):
    save_branch(
        session,
        BranchData(
            code="WH",
            name="武汉, 中支",
            level="中心支公司",
            parent_code="B42",
            contact='"王" 027',
            target=10,
        ),
    )
    rows = list(export_branches(session))
    text = io.StringIO()
    csv.writer(text).writerows(rows)
    assert import_branches(session, csv_bytes(text.getvalue())) == (0, len(rows) - 1)
    assert list(export_branches(session)) == rows


def test_import_routes_validates_each_row(session):
    before = list(export_routes(session))
    data = csv_bytes(
        "province_code,city_code,branch_code\n"
        "990000,,B11\n"  # no such province
        "420000,330100,B42\n"  # 杭州市 is not in 湖北
        "420000,,NOPE\n"  # unknown branch
        "110000,110105,B11\n"  # municipality: no city overrides
        "420000,420100,B42\n"
        "420000,420100,B11\n"  # duplicate
        "420100,,B42\n"  # a city code given as the province
    )
    with pytest.raises(CsvImportError) as info:
        import_routes(session, data)
    errors = info.value.errors
    assert errors == [
        "row 2: unknown province code '990000'",
        "row 3: city 杭州市 (330100) is not a city of 湖北省",
        "row 4: unknown branch code 'NOPE'",
        "row 5: 北京市 is a municipality: set its province default, not a city",
        "row 7: duplicate route for 湖北省武汉市 (first on row 6)",
        "row 8: unknown province code '420100'",
    ]
    assert list(export_routes(session)) == before  # nothing written


def test_import_routes_replaces_the_mapping(session):
    data = csv_bytes(
        "province_code,city_code,branch_code\r\n420000,,B42\r\n420000,429004,B11\r\n\r\n",
        bom=True,
    )
    assert import_routes(session, data) == (1, 1)
    assert list(export_routes(session)) == [
        ["province_code", "city_code", "branch_code"],
        ["420000", "", "B42"],
        ["420000", "429004", "B11"],
    ]


def test_save_branch_refuses_taken_code_and_loops(session):
    with pytest.raises(BranchError, match="已被"):
        save_branch(session, BranchData(code="B42", name="重复"))
    b42 = by_code(session, "B42")
    wh = save_branch(session, BranchData(code="WH", name="武汉", parent_code="B42"))
    with pytest.raises(BranchError, match="上级机构不能"):
        save_branch(session, BranchData(code="B42", name="湖北分公司", parent_code="WH"), b42)
    assert wh.parent_id == b42.id


# --- the CLI ----------------------------------------------------------------


def test_cli_import_errors_name_the_row_and_exit_nonzero(runner, tmp_path: Path, app):
    bad = tmp_path / "routes.csv"
    bad.write_text("province_code,city_code,branch_code\n420000,330100,B42\n", encoding="utf-8")
    result = runner.invoke(branches_group, ["import-routes", str(bad)])
    assert result.exit_code == 1
    assert "row 2: city 杭州市 (330100) is not a city of 湖北省" in result.output
    assert "nothing was imported" in result.output


def test_cli_round_trip_and_reassign(runner, tmp_path: Path, app, session, protector):
    campaign = session.scalars(select(Campaign)).one()
    make_participant(session, protector, campaign, 2)  # 湖北省武汉市
    session.commit()
    branches_csv = tmp_path / "branches.csv"
    branches_csv.write_text("code,name,level,parent_code\nWH,武汉中支,中心支公司,B42\n", "utf-8")
    result = runner.invoke(branches_group, ["import-branches", str(branches_csv)])
    assert result.exit_code == 0 and "1 branch(es) created" in result.output

    out = tmp_path / "routes.csv"
    result = runner.invoke(branches_group, ["export-routes", "-o", str(out)])
    assert result.exit_code == 0
    assert out.read_bytes().startswith("\ufeffprovince_code".encode())
    with out.open("a", encoding="utf-8", newline="") as stream:
        stream.write("420000,420100,WH\r\n")
    result = runner.invoke(branches_group, ["import-routes", str(out)])
    assert result.exit_code == 0, result.output
    assert "31 province default(s), 1 city override(s)" in result.output

    result = runner.invoke(branches_group, ["reassign"])
    assert result.exit_code == 0, result.output
    assert "1 lead(s) moved" in result.output
    session.expire_all()
    assert session.scalars(select(AuditLog.action)).all() == ["branches.reassign"]
    result = runner.invoke(branches_group, ["export-routes", "--no-bom"])
    assert "420000,420100,WH" in result.output
    assert count(session, BranchRoute) == 32


def test_set_route_refuses_a_city_of_another_province(session):
    with pytest.raises(BranchError, match="not a city of"):
        set_route(session, "420000", "330100", by_code(session, "B42"))


def test_cli_exports_to_a_missing_folder_say_so(runner, tmp_path):
    from quiz.cli.branches import export_branches_command
    from quiz.cli.referrals import export_links

    target = tmp_path / "no-such-folder" / "out.csv"
    for command in (export_branches_command, export_links):
        result = runner.invoke(command, ["-o", str(target)])
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
        assert f"cannot write {target}: No such file or directory" in result.output
