"""Referral links: attribution, agents, posters, leaderboard."""
