"""Situation reports, rebuilt from the event log for any moment."""
