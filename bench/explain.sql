-- The queries approvald's PostgreSQL store runs on the paths that grow with
-- the data, each under EXPLAIN (ANALYZE, BUFFERS). Run after pg-million.sql:
--   psql "$DB" -f bench/explain.sql
\pset pager off
SELECT id AS some_id, requester AS some_requester FROM approvals ORDER BY id DESC OFFSET 500000 LIMIT 1 \gset
SELECT id AS deep_cursor FROM approvals ORDER BY id OFFSET 1000 LIMIT 1 \gset

\echo '== list, first page (GET /v1/approvals?limit=50)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM approvals ORDER BY id DESC LIMIT 51;

\echo '== list, a page deep in the table (keyset cursor near the oldest rows)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM approvals WHERE id < :'deep_cursor' ORDER BY id DESC LIMIT 51;

\echo '== list pending (status=pending)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM approvals WHERE status = 2 ORDER BY id DESC LIMIT 51;

\echo '== list expired (status=expired, 2% of rows)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM approvals WHERE status = 9 ORDER BY id DESC LIMIT 51;

\echo '== list of several statuses (status=rejected,cancelled): one index range per status'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM (
  (SELECT * FROM approvals WHERE status = 4 ORDER BY id DESC LIMIT 51) UNION ALL
  (SELECT * FROM approvals WHERE status = 5 ORDER BY id DESC LIMIT 51)
) AS page ORDER BY id DESC LIMIT 51;

\echo '== list by requester, next page (requester=…&cursor=…)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM approvals WHERE requester = :'some_requester' AND id < :'some_id' ORDER BY id DESC LIMIT 51;

\echo '== list by service rule and status'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM approvals WHERE status = 2 AND service_rule = 'rule-2' ORDER BY id DESC LIMIT 51;

\echo '== get one (GET /v1/approvals/{id}), and its row lock for a change'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM approvals WHERE id = :'some_id';

\echo '== history of one request'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT request_id, seq, actor, action, changes, at, prev_hash, hash FROM history WHERE request_id = :'some_id' ORDER BY seq;

\echo '== overdue sweep (the few requests overdue since the last sweep)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM approvals WHERE status = 2 AND deadline IS NOT NULL AND deadline <= now() ORDER BY deadline, id LIMIT 100;

\echo '== overdue sweep after an outage (10,000 overdue at once)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT id FROM approvals WHERE status = 2 AND deadline IS NOT NULL AND deadline <= now() + interval '10 days' ORDER BY deadline, id LIMIT 100;

\echo '== list of rare statuses (status=error,acknowledged_approved,acknowledged_rejected,acknowledged_cancelled): one index range per status'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM (
  (SELECT * FROM approvals WHERE status = 1 ORDER BY id DESC LIMIT 51) UNION ALL
  (SELECT * FROM approvals WHERE status = 6 ORDER BY id DESC LIMIT 51) UNION ALL
  (SELECT * FROM approvals WHERE status = 7 ORDER BY id DESC LIMIT 51) UNION ALL
  (SELECT * FROM approvals WHERE status = 8 ORDER BY id DESC LIMIT 51)
) AS page ORDER BY id DESC LIMIT 51;

\echo '== inbox (GET /v1/approvals?awaiting=me): a reviewer matching "*", itself and two groups'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM approvals WHERE id IN (
  SELECT DISTINCT p.request_id FROM unnest(ARRAY['*', 'g:finance', 'g:ops', 'p:svc:reviewer']) AS k (key)
  CROSS JOIN LATERAL (
    SELECT i.request_id FROM approval_inbox AS i
    WHERE i.key = k.key AND i.request_id > '00000000-0000-0000-0000-000000000000'
      AND NOT EXISTS (SELECT 1 FROM approval_excluded AS x WHERE x.request_id = i.request_id AND x.principal = 'svc:reviewer' OFFSET 0)
    ORDER BY i.request_id LIMIT 51) AS p
  ORDER BY p.request_id LIMIT 51)
ORDER BY id;

\echo '== inbox of a requester of 100 pending requests (it is excluded from its own), next page'
SELECT request_id AS inbox_cursor FROM approval_inbox WHERE key = '*' ORDER BY request_id OFFSET 50000 LIMIT 1 \gset
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT * FROM approvals WHERE id IN (
  SELECT DISTINCT p.request_id FROM unnest(ARRAY['*', 'p:svc:s7']) AS k (key)
  CROSS JOIN LATERAL (
    SELECT i.request_id FROM approval_inbox AS i
    WHERE i.key = k.key AND i.request_id > :'inbox_cursor'
      AND NOT EXISTS (SELECT 1 FROM approval_excluded AS x WHERE x.request_id = i.request_id AND x.principal = 'svc:s7' OFFSET 0)
    ORDER BY i.request_id LIMIT 51) AS p
  ORDER BY p.request_id LIMIT 51)
ORDER BY id;

\echo '== dependents of a request (after it settles)'
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT request_id FROM approval_deps WHERE depends_on = :'some_id' ORDER BY request_id;
