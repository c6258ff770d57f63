"""The weekly status report as data: figures built from what the store measured."""
