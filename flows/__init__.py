"""Business flows, one module each, registered by name with ``rpa.run.registry.flow``."""
