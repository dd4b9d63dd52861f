"""`companion web`: the page relatives, coordinators and evaluators use (FastAPI, server-rendered)."""
