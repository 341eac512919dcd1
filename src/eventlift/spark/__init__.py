"""The Spark path: the same config and outputs on a Spark DataFrame or table.

Import the modules you need (``eventlift.spark.run``, ``.prepare``, ``.attribute``, ``.tables``,
``.train``, ``.trust``); none of them imports PySpark at import time, so ``import eventlift``
stays light.
"""
