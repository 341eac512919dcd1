"""What the tests share: tiny logs with known answers, models with closed-form scores, the
PostgreSQL server, the SparkSession and a small output folder for the report tests."""
