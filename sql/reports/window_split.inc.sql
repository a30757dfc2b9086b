-- window_split.inc.sql — shared by the rollup variants (*.fast.sql) that sum
-- job figures over [:from, :to]: not a statement of its own, but two CTEs the
-- report loader pastes where a file says "-- @include window_split.inc.sql"
-- (right after WITH; the text ends with the comma before the next CTE).
--
-- w0 splits the window into whole months [fm, lm] (rs_job_month) plus head
-- and tail days (rs_job_day): same_month / same_partial when :from and :to
-- fall in one month, has_head / has_tail for partial first / last months,
-- day_to the last day read from the day rollup; covers_all when the window
-- spans every day of the rollups (rs_rollup_state.job_d_min / job_d_max).
-- w: a window covering every day reads rs_job_all only: the month and day
-- ranges are emptied.
w0 AS MATERIALIZED (
  SELECT fm, lm, same_month,
         same_month AND NOT (substr(:from, 9, 2) = '01' AND :to = to_end) AS same_partial,
         NOT same_month AND substr(:from, 9, 2) <> '01' AS has_head,
         NOT same_month AND :to <> to_end AS has_tail,
         CASE WHEN same_month AND NOT (substr(:from, 9, 2) = '01' AND :to = to_end) THEN :to ELSE '' END AS day_to,
         COALESCE((SELECT :from <= job_d_min AND :to >= job_d_max FROM rs_rollup_state WHERE id = 1), 0) AS covers_all
  FROM (SELECT CASE WHEN substr(:from, 9, 2) = '01' THEN :from
                    ELSE date(:from, 'start of month', '+1 month') END AS fm,
               CASE WHEN :to = date(:to, 'start of month', '+1 month', '-1 day') THEN date(:to, 'start of month')
                    ELSE date(:to, 'start of month', '-1 month') END AS lm,
               substr(:from, 1, 7) = substr(:to, 1, 7) AS same_month,
               date(:to, 'start of month', '+1 month', '-1 day') AS to_end)
),
w AS MATERIALIZED (
  -- a window covering every day reads rs_job_all only: the other ranges are emptied
  SELECT covers_all, fm, CASE WHEN covers_all THEN '' ELSE lm END AS lm,
         has_head AND NOT covers_all AS has_head, has_tail AND NOT covers_all AS has_tail,
         CASE WHEN covers_all THEN '' ELSE day_to END AS day_to
  FROM w0
),
