-- A deviation is not bounded by 100: an observed 9999999999.99 against a retail price of 0.01 is
-- +99999999999800.00 %, which numeric(9, 2) could not hold (the insert failed: a 500). And a
-- retail price rounded to 0.00 leaves no percentage to report (NULL).
-- depends: 0003_inputs_version
ALTER TABLE observations ALTER COLUMN deviation_pct TYPE numeric(18, 2),
                         ALTER COLUMN deviation_pct DROP NOT NULL;
