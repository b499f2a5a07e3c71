"""Stipend rules, the exactly-once payment ledger, payroll export and clawback."""
