"""Timers and agents of the weather app, found by Faust's autodiscovery."""
