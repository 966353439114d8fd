"""Requests for assistance (RFAs) and their needs, with the per-need picture."""
