"""Adapters: the outside world (AWS services, provider catalogs) behind the ports of ``gpubroker.ports``."""
