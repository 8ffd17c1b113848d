"""Campaigns: the campaign file, its validation, the window, the served one."""
