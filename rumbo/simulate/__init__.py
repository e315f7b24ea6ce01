"""Simulation and backtests: a behaviour model learned from history, the real engine on virtual time over
synthetic customers drawn from it, and replays of recorded history through a draft journey."""
