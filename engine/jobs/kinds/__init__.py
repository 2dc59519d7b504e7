"""One module per job kind; each registers itself with :func:`engine.jobs.registry.job_kind`."""
