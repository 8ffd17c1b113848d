"""The quiz engine: question bank, random subset, answer sheet and scoring."""
