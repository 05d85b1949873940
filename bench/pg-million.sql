-- Fills a migrated approvald database with :n approval requests (default
-- 1,000,000) spread over a year, each with its creation history entry and
-- outbox event, in realistic proportions: 10% pending (a third of those with a
-- deadline), 60% approved, 20% rejected, 8% cancelled, 2% expired; 1,000
-- requesters; 30% with one of 20 service rules. Ids are UUIDv7, like approvald's.
--   psql "$DB" -v n=1000000 -f bench/pg-million.sql
\if :{?n}
\else
  \set n 1000000
\endif
\timing on
SET synchronous_commit = off;

CREATE TEMP TABLE gen AS
SELECT i,
       ts,
       (substr(h, 1, 8) || '-' || substr(h, 9, 4) || '-' || substr(h, 13, 4) || '-' ||
        substr(h, 17, 4) || '-' || substr(h, 21, 12))::uuid AS id,
       CASE WHEN i % 100 < 10 THEN 2 WHEN i % 100 < 70 THEN 3 WHEN i % 100 < 90 THEN 4
            WHEN i % 100 < 98 THEN 5 ELSE 9 END AS status
FROM (
  SELECT i, ts,
         lpad(to_hex((extract(epoch FROM ts) * 1000)::bigint), 12, '0') || '7' ||
         substr(md5(i::text), 1, 3) || '8' || substr(md5(i::text), 4, 15) AS h
  FROM (SELECT i, now() - interval '365 days' + (i * (interval '365 days' / :n)) AS ts
        FROM generate_series(1, :n) AS i) t
) g;

INSERT INTO approvals (id, title, description, payload, requester, service_rule, deadline, policy,
                       status, previous_status, comment, reviews, delivery, version,
                       created_at, updated_at, decided_at, history_head)
SELECT id, 'Pay invoice ' || i, '',
       ('{"invoice":' || i || ',"amount":"1200.00","currency":"EUR"}')::json,
       'svc:s' || (i % 1000),
       CASE WHEN i % 10 < 3 THEN 'rule-' || (i % 20) ELSE '' END,
       CASE WHEN status = 2 AND i % 3 = 0 THEN now() + (i % 1000) * interval '1 hour' END,
       '{"rules":[{"name":"default","min_approvals":1,"reject_threshold":1}],"allow_self_review":false}'::json,
       status, CASE WHEN status <> 2 THEN 2 END, '', '[]'::json, NULL,
       CASE WHEN status = 2 THEN 1 ELSE 2 END, ts, ts, CASE WHEN status <> 2 THEN ts END,
       md5(i::text) || md5(i::text)
FROM gen ORDER BY i;

INSERT INTO history (request_id, seq, actor, action, changes, at, prev_hash, hash)
SELECT id, 1, 'svc:s' || (i % 1000), 'create', '{"title":{"after":"Pay invoice"}}', ts, '',
       md5(i::text) || md5(i::text)
FROM gen ORDER BY i;

INSERT INTO outbox (id, type, request_id, version, data, created_at, published_at)
SELECT gen_random_uuid(), 'approval.created', id, 1, '{"id":"x"}', ts, ts
FROM gen ORDER BY i;

INSERT INTO approval_inbox (key, request_id)
SELECT CASE WHEN i % 10 = 7 THEN 'g:finance'
            WHEN i % 10 = 8 THEN 'p:user:lead-' || (i % 100)
            ELSE '*' END, id
FROM gen WHERE status = 2 ORDER BY i;

INSERT INTO approval_excluded (request_id, principal)
SELECT id, 'svc:s' || (i % 1000) FROM gen WHERE status = 2 ORDER BY i;

ANALYZE approval_inbox;
ANALYZE approval_excluded;
ANALYZE approvals;
ANALYZE history;
ANALYZE outbox;
SELECT count(*) AS approvals FROM approvals;
