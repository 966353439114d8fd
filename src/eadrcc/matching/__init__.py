"""Matching offers to needs: the taxonomy, the score, the engine, and allocation."""
