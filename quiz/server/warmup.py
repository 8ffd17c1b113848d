"""Load what the public pages build lazily before gunicorn forks its workers.

The first registration in a fresh process loads the ID-number region table,
the phone-number metadata and the address automaton, and compiles the page
templates: about 130 ms, paid again by every worker and by every worker that
max_requests recycles. Done once in the preloading master, it is shared with
every worker through fork.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy.orm import configure_mappers

# The example number of the national standard (GB 11643), valid and fictitious.
SAMPLE_RESIDENT_ID = "11010519491231002X"


def warm_up(app: Flask) -> None:
    """Exercise the validators, the address parser, the mappers and the templates once."""
    from quiz import identity
    from quiz.regions.parser import parse_address
    from quiz.regions.postal import postal_code_province_mismatch

    identity.validate_resident_id(SAMPLE_RESIDENT_ID)
    identity.validate_mobile("13800138000")
    identity.validate_landline("010-12345678")
    parse_address("北京市朝阳区建国路88号")
    postal_code_province_mismatch("100020", "110000")
    configure_mappers()
    for name in app.jinja_env.list_templates():
        if name.endswith(".html"):
            app.jinja_env.get_template(name)
