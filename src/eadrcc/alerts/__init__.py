"""Alerts from automated integrations (CAP 1.2/1.1, JSON, GDACS and USGS feeds):
strictly parsed, signed, de-duplicated, grouped, and opening watches."""
