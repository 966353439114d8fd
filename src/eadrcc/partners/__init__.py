"""Partner records: Allies and partners, their programmes and 24/7 contacts."""
