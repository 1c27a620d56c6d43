"""Use cases: functions taking models and ports as keyword arguments. No environment, no event shapes."""
