"""Relational storage: SQLite or PostgreSQL behind one protocol."""
