-- dwh:object function setup.touch_updated_at()
CREATE OR REPLACE FUNCTION setup.touch_updated_at()
RETURNS trigger
LANGUAGE plpgsql
SECURITY INVOKER
AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;

COMMENT ON FUNCTION setup.touch_updated_at() IS
    'Trigger function: stamps updated_at on every update of a row.';
