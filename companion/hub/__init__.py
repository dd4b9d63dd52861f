"""The hub and its devices: credentials, the sync protocol (docs/hub-sync.md) and fleet summaries."""
