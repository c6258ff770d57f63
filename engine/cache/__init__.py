"""Two cache tiers: an in-process L1 and a shared L2 (memory or Redis)."""
