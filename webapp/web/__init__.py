"""App-wide web plumbing: request context, middleware, errors, probes, logging, language."""
