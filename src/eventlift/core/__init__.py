"""The foundation every stage stands on, and which imports none of them.

Atomic file writes (:mod:`~eventlift.core.atomic`), database URLs, engines and identifier checks
(:mod:`~eventlift.core.sql`), memory and progress helpers, the stage timer and the versions a
run records.
"""
