"""The companion's mind: understanding what was said and deciding what to do about it."""
