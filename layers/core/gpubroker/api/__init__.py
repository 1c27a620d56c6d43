"""HTTP glue shared by every API function: the resolver factory, the one error map, response models."""
