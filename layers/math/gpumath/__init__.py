"""Pure NumPy kernels. Arrays in, arrays out; nothing of ours is imported here."""
