"""The branch race (E服务推广活动): groups, targets, milestones, rewards, imported metrics."""
