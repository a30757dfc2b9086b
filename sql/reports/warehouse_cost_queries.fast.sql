-- warehouse_cost_queries.fast.sql — rollup variant of
-- warehouse_cost_queries.sql (same columns, order and figures): the
-- per-query allocations are pre-computed in rs_query_alloc; the top 100 of
-- the window are picked there and only they read their SQL text.
SELECT a.query_id, a.warehouse_id, a.d AS query_date, a.user_id, a.ms AS duration_ms, a.error_message,
       substr(h.sql_text, 1, 200) AS sql_text, a.cost AS allocated_cost_usd
FROM (SELECT query_id, warehouse_id, d, user_id, ms, error_message, cost FROM rs_query_alloc
      WHERE d BETWEEN :from AND :to AND (:workspace IS NULL OR workspace_id = :workspace)
      ORDER BY cost DESC, query_id LIMIT 100) a
JOIN sql_query_history h ON h.query_id = a.query_id
ORDER BY allocated_cost_usd DESC, a.query_id
