"""What the commands do, stage by stage: the run and the outputs it writes, its result, the mode
comparison, seed stability, method evaluation, the demo, and the config ``eventlift init`` writes.
"""
