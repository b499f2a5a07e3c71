"""The educator-facing side: the roster imported from HR, enrollments, evidence and deadlines."""
