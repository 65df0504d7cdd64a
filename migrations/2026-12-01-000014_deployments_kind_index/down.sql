DROP INDEX deployments_org_kind_idx;
