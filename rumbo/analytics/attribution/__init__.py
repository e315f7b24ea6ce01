"""Multi-touch attribution: which channels, campaigns, journeys or nodes led to conversions.

`touchpoints` reads touchpoints and conversions from the archive and cuts them into a `PathSet` (`paths`);
the models read that: rule-based ones in `heuristic`, the data-driven Markov chain with exact removal
effects in `markov`, exact Shapley values in `shapley`. `analysis.attribute` ties them together and
returns the result the CLI and the API show.
"""
