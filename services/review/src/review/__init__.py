"""Assessors, conflicts of interest, blind assignment, rubric scoring and calibration."""
