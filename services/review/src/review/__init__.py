"""Assessors, conflicts of interest, blind assignment with an SLA, reassignment and escalation
of overdue assignments, rubric scoring with double rating, calibration and its drift,
misconduct flags ruled on by approvers, and the state's research measures."""
