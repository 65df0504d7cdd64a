//! Matching a request's host and path to a service: an exact host beats a
//! `*.domain` wildcard (the longest domain first), which beats a service without
//! hosts; within a host, the longest matching path prefix wins.

use std::{cmp::Reverse, collections::HashMap, sync::Arc};

use crate::service::Service;

#[derive(Default)]
pub struct Routes {
    exact: HashMap<String, Vec<Route>>,
    /// Keyed by the suffix including its dot (`.example.com`), longest first.
    wildcard: Vec<(String, Vec<Route>)>,
    default: Vec<Route>,
}

struct Route {
    prefix: String,
    service: Arc<Service>,
}

impl Routes {
    pub fn build<'a>(services: impl IntoIterator<Item = &'a Arc<Service>>) -> Self {
        let mut routes = Routes::default();
        let mut wildcard: HashMap<String, Vec<Route>> = HashMap::new();
        for service in services {
            for prefix in &service.config.path_prefixes {
                let route = || Route {
                    prefix: prefix.clone(),
                    service: service.clone(),
                };
                if service.config.hosts.is_empty() {
                    routes.default.push(route());
                }
                for host in &service.config.hosts {
                    match host.strip_prefix('*') {
                        Some(suffix) => wildcard
                            .entry(suffix.to_string())
                            .or_default()
                            .push(route()),
                        None => routes.exact.entry(host.clone()).or_default().push(route()),
                    }
                }
            }
        }
        routes.wildcard = wildcard.into_iter().collect();
        routes
            .wildcard
            .sort_by_key(|(suffix, _)| Reverse(suffix.len()));
        let by_longest_prefix =
            |list: &mut Vec<Route>| list.sort_by_key(|route| Reverse(route.prefix.len()));
        routes.exact.values_mut().for_each(by_longest_prefix);
        routes
            .wildcard
            .iter_mut()
            .for_each(|(_, list)| by_longest_prefix(list));
        by_longest_prefix(&mut routes.default);
        routes
    }

    /// `host` is lower-case without a port.
    pub fn find(&self, host: &str, path: &str) -> Option<(&Arc<Service>, &str)> {
        let exact = self.exact.get(host).into_iter();
        let wildcard = self
            .wildcard
            .iter()
            .filter(|(suffix, _)| host.len() > suffix.len() && host.ends_with(suffix.as_str()))
            .map(|(_, list)| list);
        exact
            .chain(wildcard)
            .chain(std::iter::once(&self.default))
            .find_map(|list| {
                list.iter()
                    .find(|route| prefix_matches(&route.prefix, path))
                    .map(|route| (&route.service, route.prefix.as_str()))
            })
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The path sent to the target when the service strips its prefix.
pub fn strip_prefix<'a>(prefix: &str, path: &'a str) -> &'a str {
    if prefix == "/" {
        return path;
    }
    match path.strip_prefix(prefix) {
        Some("") => "/",
        Some(rest) => rest,
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        duration::GoDuration,
        service::{HealthCheckConfig, ServiceConfig, Target},
    };
    use std::time::Duration;

    fn service(name: &str, hosts: &[&str], prefixes: &[&str]) -> Arc<Service> {
        let seconds = GoDuration(Duration::from_secs(1));
        Arc::new(Service {
            config: ServiceConfig {
                name: name.into(),
                target: "127.0.0.1:1".into(),
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                path_prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
                strip_path_prefix: true,
                tls: None,
                health_check: HealthCheckConfig {
                    path: "/up".into(),
                    interval: seconds,
                    timeout: seconds,
                    port: None,
                },
                target_timeout: seconds,
                forward_headers: false,
                max_request_body: 0,
                buffering: Default::default(),
                log_request_headers: Vec::new(),
                log_response_headers: Vec::new(),
            },
            target: Target::new("127.0.0.1:1".into(), true),
            stopped: None,
            rollout: None,
        })
    }

    fn routed(routes: &Routes, host: &str, path: &str) -> Option<String> {
        routes.find(host, path).map(|(s, _)| s.config.name.clone())
    }

    #[test]
    fn exact_beats_wildcard_beats_default() {
        let services = [
            service("exact", &["app.example.com"], &["/"]),
            service("wild", &["*.example.com"], &["/"]),
            service("deeper", &["*.eu.example.com"], &["/"]),
            service("default", &[], &["/"]),
        ];
        let routes = Routes::build(&services);
        assert_eq!(
            routed(&routes, "app.example.com", "/").as_deref(),
            Some("exact")
        );
        assert_eq!(
            routed(&routes, "x.example.com", "/").as_deref(),
            Some("wild")
        );
        assert_eq!(
            routed(&routes, "x.eu.example.com", "/").as_deref(),
            Some("deeper")
        );
        assert_eq!(
            routed(&routes, "example.com", "/").as_deref(),
            Some("default")
        );
    }

    #[test]
    fn longest_prefix_wins_on_segment_boundaries() {
        let services = [
            service("root", &["a.test"], &["/"]),
            service("api", &["a.test"], &["/api"]),
            service("v2", &["a.test"], &["/api/v2"]),
        ];
        let routes = Routes::build(&services);
        assert_eq!(
            routed(&routes, "a.test", "/api/v2/x").as_deref(),
            Some("v2")
        );
        assert_eq!(routed(&routes, "a.test", "/api/v1").as_deref(), Some("api"));
        assert_eq!(routed(&routes, "a.test", "/api").as_deref(), Some("api"));
        assert_eq!(
            routed(&routes, "a.test", "/apiary").as_deref(),
            Some("root")
        );
        assert_eq!(routed(&routes, "b.test", "/"), None);
    }

    #[test]
    fn strips_prefixes() {
        assert_eq!(strip_prefix("/api", "/api/users"), "/users");
        assert_eq!(strip_prefix("/api", "/api"), "/");
        assert_eq!(strip_prefix("/", "/x"), "/x");
    }
}
