-- CPU-bound work whose length a setting controls: spin() runs a plpgsql
-- loop of current_setting('sluice.spin') iterations, so that a target
-- whose connection sets sluice.spin 10% higher is 10% slower in CPU work
-- (pg_sleep would be coarse and would not use the CPU).
CREATE FUNCTION spin() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  n int := current_setting('sluice.spin')::int;
  s bigint := 0;
BEGIN
  FOR i IN 1..n LOOP
    s := s + i;
  END LOOP;
  RETURN s;
END
$$;
