"""Usage for evaluation: consent, counts by day and week, summaries with small cells suppressed."""
