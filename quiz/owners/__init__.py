"""Lead owners: the agent who follows a lead up, its deadline, attempts and overdue lists."""
