"""`rumbo demo`: a synthetic population through the example journeys, end to end, on virtual time."""
