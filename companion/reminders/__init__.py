"""Reminders: what to say and when (recurrence), the book of reminders and occurrences in the database,
the scheduler that knows what is due, and the delivery that speaks it on the device."""
