"""Pure domain: pydantic models, the error taxonomy and rules. Imports nothing of ours outside domain."""
