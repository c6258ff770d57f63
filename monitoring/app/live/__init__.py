"""Live serving: the engine on loopback, its traffic, the dashboard server and its pages."""
