"""The pure, deterministic journey engine and the send gate above all journeys."""
