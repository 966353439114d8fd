"""OASIS EDXL-RM 1.0 in and out: RFAs and offers from messages, messages from RFAs,
offers and allocations."""
