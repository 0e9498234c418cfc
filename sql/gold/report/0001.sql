-- dwh:object function gold.report()
CREATE OR REPLACE FUNCTION gold.report()
RETURNS TABLE (section text, item text, value numeric)
LANGUAGE sql STABLE SECURITY INVOKER
AS $$
    -- What `dwh report` shows after the rows of every gold table.
    SELECT 'sales by country', coalesce(c.country, '(unknown)'), sum(f.sales_amount)
      FROM gold.fact_sales f
      LEFT JOIN gold.dim_customers c ON c.customer_key = f.customer_key
     GROUP BY c.country
    UNION ALL
    SELECT 'customers by gender', c.gender, count(*)
      FROM gold.dim_customers c
     GROUP BY c.gender
     ORDER BY 1, 3 DESC, 2
$$;

COMMENT ON FUNCTION gold.report() IS
    'A short business summary of gold (sales by country, customers by gender) for dwh report.';
