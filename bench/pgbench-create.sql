-- pgbench transaction of the same shape as approvald's create: one request
-- row, its first history entry and its outbox event, in one transaction of
-- separate statements (as approvald sends them). Run against a database
-- approvald has migrated; see docs/performance.md.
\set inv random(1, 1000000000)
BEGIN;
INSERT INTO approvals (id, title, description, payload, requester, service_rule, deadline, policy,
                       status, previous_status, comment, reviews, delivery, version,
                       created_at, updated_at, decided_at, history_head)
VALUES (gen_random_uuid(), 'Pay invoice ' || :inv, '',
        ('{"invoice":' || :inv || ',"amount":"1200.00","currency":"EUR","lines":[1,2,3]}')::json,
        'svc:pgbench', '', NULL,
        '{"rules":[{"name":"default","min_approvals":1,"reject_threshold":1}],"allow_self_review":false}'::json,
        2, NULL, '', '[]'::json, NULL, 1, now(), now(), NULL, md5(:inv::text) || md5(:inv::text))
RETURNING id AS rid \gset
INSERT INTO history (request_id, seq, actor, action, changes, at, prev_hash, hash)
VALUES (':rid'::uuid, 1, 'svc:pgbench', 'create',
        '{"title":{"after":"Pay invoice"},"payload":{"after":{"invoice":1,"amount":"1200.00"}},"status":{"after":"pending"},"requester":{"after":"svc:pgbench"}}',
        now(), '', md5(:inv::text) || md5(:inv::text));
INSERT INTO outbox (id, type, request_id, version, data, created_at)
VALUES (gen_random_uuid(), 'approval.created', ':rid'::uuid, 1,
        '{"id":"x","title":"Pay invoice","payload":{"invoice":1,"amount":"1200.00","currency":"EUR"},"status":"pending","status_code":2,"version":1}',
        now());
COMMIT;
