"""The base of every web form: text fields lose invisible and direction characters.

Every form class of the site derives from SafeForm (tests/test_text_safety.py walks
them), so a new form cannot forget it. Each text field (StringField and its kinds:
text areas, hidden fields) gets quiz.text_safety.text_filter as its last filter, so
validators, views and services only ever see the cleaned value. Passwords are left
exactly as typed, and so is any field a form lists in `exact_fields` (the draw's
randomness string, used exactly as published: its format check refuses such
characters instead).
"""

from __future__ import annotations

from typing import Any, ClassVar

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField

from quiz.text_safety import text_filter


class SafeForm(FlaskForm):
    """FlaskForm whose text fields strip invisible characters (see the module)."""

    exact_fields: ClassVar[frozenset[str]] = frozenset()

    class Meta:
        def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
            field_class = unbound_field.field_class
            if (
                issubclass(field_class, StringField)
                and not issubclass(field_class, PasswordField)
                and options.get("name") not in getattr(form, "exact_fields", ())
            ):
                given = options.get("filters", unbound_field.kwargs.get("filters", ()))
                options = {**options, "filters": [*given, text_filter]}
            return unbound_field.bind(form=form, **options)
