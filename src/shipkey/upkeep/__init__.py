"""Keeping the database small: the daily clean-up of what is done with."""
