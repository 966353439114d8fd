"""Circulation: distribution lists, `request.circulated` events, the response matrix,
reminders and escalation."""
