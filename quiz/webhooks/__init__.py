"""CRM hand-off: signed JSON webhooks per campaign, sent from the outbox (quiz.outbox)."""
