"""ION Mentoring, embedded: three regions, an edge, caches, databases, an HTTP API.

Entry points: ``engine.cluster.Cluster``, ``engine.config.EngineConfig``,
``engine.traffic.TrafficModel`` and ``engine.faults.FAULT_KINDS``. The engine only
exposes prometheus-client registries and ``/metrics``; it knows no monitoring.
"""
