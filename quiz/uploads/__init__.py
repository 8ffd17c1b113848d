"""Reading files staff upload (lists, rosters, question banks, figures) safely."""
