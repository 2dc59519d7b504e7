"""Jobs: the durable queue in the project database, the worker loop, the job kinds."""
