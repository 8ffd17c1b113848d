"""The public site: campaign page, registration, quiz, result."""
