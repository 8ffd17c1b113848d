"""`quiz risk report` and `quiz risk recompute`."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskCliRunner
from sqlalchemy.orm import Session

from quiz.branches.routing import AddressInput
from quiz.campaign.lifecycle import current_campaign
from quiz.cli.risk import recompute, report
from quiz.fraud import review
from tests.factories import make_participant, make_staff


def test_report_prints_masked_clusters_as_tsv(
    runner: FlaskCliRunner, session: Session, protector: Any
) -> None:
    campaign = current_campaign(session)
    assert campaign is not None
    for n in range(1, 5):
        make_participant(
            session,
            protector,
            campaign,
            n,
            mobile=f"1701234567{n}",
            address=AddressInput(free_text="湖北省武汉市江岸区沿江大道100号"),
        )
    session.commit()
    done = runner.invoke(recompute, ["--campaign", campaign.slug])
    assert done.exit_code == 0 and "4 entries with a risk signal" in done.output
    key = next(c for c in review.clusters(session, campaign) if c.signal == "address")
    review.exclude_cluster(
        session, campaign, "address", key.cluster_key, "同址", make_staff(session)
    )
    session.commit()
    out = runner.invoke(report, ["--campaign", campaign.slug])
    assert out.exit_code == 0
    lines = [line.split("\t") for line in out.output.splitlines()]
    assert lines[0] == ["signal", "cluster", "entries", "excluded"]
    assert sorted(lines[1:]) == [
        ["address", "湖北省武汉市江岸区沿江***", "4", "4"],
        ["segment", "170 号段", "4", "4"],
    ]
    assert "100号" not in out.output
    missing = runner.invoke(report, ["--campaign", "nope"])
    assert missing.exit_code != 0 and "no campaign 'nope'" in missing.output
