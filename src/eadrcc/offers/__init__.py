"""Offers of assistance and their items; withdrawal."""
