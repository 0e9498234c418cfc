-- dwh:object function setup.apply_setting(text, text, text)
CREATE OR REPLACE FUNCTION setup.apply_setting(p_key text, p_parameter text, p_hint text)
RETURNS void
LANGUAGE plpgsql SECURITY INVOKER
AS $$
BEGIN
    -- The server parameter p_parameter, for the caller's transaction, from the
    -- setting p_key of setup.etl_config (left as it is when that is NULL).  A
    -- value PostgreSQL refuses fails with the setting's name and p_hint, not
    -- only the parameter's.
    PERFORM set_config(p_parameter, c.value, true)
       FROM setup.etl_config c
      WHERE c.key = p_key AND c.value IS NOT NULL;
EXCEPTION WHEN invalid_parameter_value THEN
    RAISE EXCEPTION 'setup.etl_config %: %', p_key, SQLERRM USING HINT = p_hint;
END;
$$;

COMMENT ON FUNCTION setup.apply_setting(text, text, text) IS
    'Set a server parameter for the current transaction from a setting of setup.etl_config; '
    'a refused value is an error naming the setting, with a hint.';
