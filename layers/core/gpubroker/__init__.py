"""GPUBroker domain package: models, services, ports, adapters and API glue (no NumPy at import)."""
