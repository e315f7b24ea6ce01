"""Multi-touch attribution: which channels, campaigns, journeys or nodes led to conversions.

Rule-based models (first, last, linear, time decay, position) in `heuristic`, the data-driven Markov chain
with exact removal effects in `markov`, exact Shapley values in `shapley`; all read a `PathSet`.
"""
