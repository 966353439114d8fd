"""Emergencies: what happened where, and whether it is a watch, active or closed."""
