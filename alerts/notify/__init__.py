"""Where alerts go: one module per channel, all behind ``send(notifications)``."""
