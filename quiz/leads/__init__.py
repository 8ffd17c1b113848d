"""Leads for staff: queries, branch scope, follow-up, exports and export jobs."""
