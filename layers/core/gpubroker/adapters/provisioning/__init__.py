"""Create-instance adapters (the ``CapacityProvider`` port): RunPod, Lambda, Vast.ai, Shadeform and the local
``sandbox``. See docs/decisions.md "Reserving capacity: idempotent creates"."""
