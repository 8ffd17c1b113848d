"""The daily digest per branch by e-mail: new leads, overdue leads, race position."""
