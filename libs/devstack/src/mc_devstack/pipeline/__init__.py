"""Driving the whole pipeline from outside, as real clients would: the end-to-end test, the
chaos run (``make chaos``), the pipeline benchmark (``make bench``) and the demo (``make demo``)
share this code, so they exercise the same flows the same way.

- :mod:`.cluster`: PostgreSQL, the broker and the four services as separate OS processes
  (optionally each service split into API, relay and consumer processes), which can be
  killed with SIGKILL and restarted.
- :mod:`.driver`: seeds a realistic world over the public HTTP APIs (issuer, approved
  micro-credential, stipend rule and budgets, HR roster, calibrated assessors) and takes
  educators through enroll → evidence → submit → review (revision, then pass) → award.
- :mod:`.streams`: tails the event streams from their beginning and indexes what they show.
- :mod:`.reconcile`: the figures of a run, from the public APIs and the streams.

Development tooling (like :mod:`mc_devstack.devinfra`): never imported by a service.
"""
