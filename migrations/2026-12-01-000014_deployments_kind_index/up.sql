-- `GET /v1/deployments?kind=` without `service` (a history of restarts, of rollbacks)
-- read the whole org's deployments: 5 ms at 10,000 rows, growing with the history.
CREATE INDEX deployments_org_kind_idx ON deployments (org, kind, id DESC);
