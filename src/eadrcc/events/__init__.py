"""The event log: every state change appends here; consoles and clients follow it."""
