"""Staff knowledge contest (kind staff_contest): roster, papers, ranking, exports."""
