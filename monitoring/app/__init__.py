"""The application shell: the root config, the CLI, backfill, jobs, scheduler and live
serving. It alone wires the libraries together; nothing imports it."""
