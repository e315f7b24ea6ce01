"""Running the engine on virtual time over recorded or generated events: replay, demo, simulation."""
