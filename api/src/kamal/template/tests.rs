use std::collections::BTreeSet;

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::kamal::commands::Stamp;
use crate::kamal::plan::{plan, PlanInput};

fn sample(app_type: &str) -> Value {
    let common = json!({
        "service_name": "customer-app",
        "image_url": "ghcr.io/customer/app:v1.2.3",
        "servers": ["server-01.example.com", "server-02.example.com"],
        "server": "server-a.example.com",
        "registry_server": "ghcr.io",
        "registry_username": "customer",
        "domain": "app.example.com",
        "db_user": "app",
        "db_name": "app_production",
        "data_path": "/var/lib/customer-data",
        "cmd": "bundle exec sidekiq -C config/sidekiq.yml",
        "clear_env_vars": {"FEATURE_X": "on"},
        "secret_env_vars": ["STRIPE_KEY"],
    });
    let mut vars = serde_json::Map::new();
    for v in builtin(app_type).unwrap().variables() {
        if let Some(value) = common.get(&v.name) {
            vars.insert(v.name, value.clone());
        }
    }
    Value::Object(vars)
}

fn plans(config: &DeployConfig) {
    let version = config.resolve_version(Some("v9")).unwrap();
    let names: BTreeSet<String> = config.required_secrets().into_keys().collect();
    let input = PlanInput {
        config,
        version,
        stamp: Stamp {
            performer: "t",
            at: chrono::Utc.with_ymd_and_hms(2025, 1, 1, 0, 0, 0).unwrap(),
        },
        replaced_hex: "00",
        secret_names: &names,
    };
    let plan = plan(&input).unwrap();
    assert!(!plan.hosts.is_empty() && plan.hosts.iter().all(|h| !h.steps.is_empty()));
}

#[test]
fn every_builtin_renders_parses_and_plans() {
    assert_eq!(BUILTINS.map(|t| t.app_type), APP_TYPES);
    for template in &BUILTINS {
        let rendered = template
            .render(&sample(template.app_type))
            .unwrap_or_else(|e| panic!("{}: {e:?}", template.app_type));
        assert_eq!(
            rendered.config.service, "customer-app",
            "{}",
            template.app_type
        );
        plans(&rendered.config);
    }
}

#[test]
fn rails_template_matches_the_seed() {
    let rendered = builtin("rails").unwrap().render(&sample("rails")).unwrap();
    let c = &rendered.config;
    let web = c.role("web").unwrap();
    assert_eq!(
        c.hosts_by_role()["web"],
        ["server-01.example.com", "server-02.example.com"]
    );
    assert_eq!(web.env.clear["RAILS_ENV"], "production");
    assert_eq!(web.env.clear["RAILS_MAX_THREADS"], "5");
    assert_eq!(web.env.clear["FEATURE_X"], "on");
    let secrets: Vec<_> = web.env.secret.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        secrets,
        ["RAILS_MASTER_KEY", "SECRET_KEY_BASE", "STRIPE_KEY"]
    );
    assert_eq!(c.volumes, ["customer-app_storage:/rails/storage"]);
    let proxy = web.proxy.as_ref().unwrap();
    assert_eq!(
        (
            proxy.ssl,
            proxy.healthcheck.path.as_str(),
            proxy.healthcheck.interval
        ),
        (true, "/up", Some(10))
    );
    assert_eq!(c.ignored["asset_path"], "/rails/public/assets");
}

#[test]
fn database_templates_are_not_proxied_and_use_exec_checks() {
    for app_type in ["postgres", "redis", "mysql"] {
        let c = builtin(app_type)
            .unwrap()
            .render(&sample(app_type))
            .unwrap()
            .config;
        let role = &c.roles[0];
        assert!(role.proxy.is_none(), "{app_type}");
        assert!(role.healthcheck.is_some(), "{app_type}");
    }
    let pg = builtin("postgres")
        .unwrap()
        .render(&sample("postgres"))
        .unwrap()
        .config;
    assert_eq!(
        pg.roles[0].healthcheck.as_ref().unwrap().cmd,
        ["pg_isready", "-U", "app"]
    );
}

#[test]
fn missing_variables_are_named() {
    let mut vars = sample("rails");
    vars.as_object_mut().unwrap().remove("domain");
    assert_eq!(
        builtin("rails").unwrap().render(&vars).unwrap_err(),
        TemplateError::Variables(vec![Problem {
            at: "domain".into(),
            message: "is required by the template".into()
        }])
    );
}

/// The declarations beside each built-in are exactly what it uses: every variable its
/// source refers to is declared (and not secret), every declared one is referred to, and
/// every secret one is a secret the rendered config names (and only those).
#[test]
fn builtins_declare_exactly_what_they_use() {
    for template in &BUILTINS {
        let declared = template.variables();
        let compiled = guard::compile(template.source).unwrap();
        let used = variables::references(&compiled);
        assert_eq!(
            variables::match_source(&declared, &used),
            [],
            "{}",
            template.app_type
        );
        let rendered = template.render(&sample(template.app_type)).unwrap();
        let mut named: Vec<String> = rendered.config.required_secrets().into_keys().collect();
        // The extra names given in `secret_env_vars` are the caller's, not declarations.
        named.retain(|n| n != "STRIPE_KEY");
        let mut secrets: Vec<String> = declared
            .iter()
            .filter(|v| v.secret)
            .map(|v| v.name.clone())
            .collect();
        secrets.sort();
        assert_eq!(secrets, named, "{}", template.app_type);
    }
}

#[test]
fn builtin_defaults_are_applied_and_values_typed() {
    let generic = builtin("generic").unwrap();
    let rendered = generic.render(&sample("generic")).unwrap();
    let web = rendered.config.role("web").unwrap();
    let proxy = web.proxy.as_ref().unwrap();
    assert_eq!((proxy.ssl, proxy.app_port), (true, 80));
    assert_eq!(proxy.healthcheck.path, "/up");
    let mut vars = sample("generic");
    vars["app_port"] = json!("8080");
    vars["servers"] = json!("web-1");
    vars["colour"] = json!("blue");
    vars["KAMAL_REGISTRY_PASSWORD"] = json!("hunter2");
    let TemplateError::Variables(problems) = generic.render(&vars).unwrap_err() else {
        panic!("variables are checked")
    };
    let at: Vec<&str> = problems.iter().map(|p| p.at.as_str()).collect();
    assert_eq!(
        at,
        ["KAMAL_REGISTRY_PASSWORD", "app_port", "colour", "servers"]
    );
    assert!(
        problems.iter().all(|p| !p.message.contains("hunter2")),
        "{problems:?}"
    );
}

#[test]
fn yaml_injection_through_a_variable_is_inert() {
    let mut vars = sample("generic");
    let evil = "app.example.com\n  evil: 1\nservers: {web: [attacker.example.com]}\n# ";
    vars["domain"] = json!(evil);
    vars["clear_env_vars"] = json!({"A\": x\nregistry:": "b"});
    let result = builtin("generic").unwrap().render(&vars);
    // The whole value stays one scalar: it is rejected as a host name, no key is added.
    let TemplateError::Config { yaml, errors } = result.unwrap_err() else {
        panic!("expected config errors")
    };
    assert!(yaml.contains(
        r#"host: "app.example.com\n  evil: 1\nservers: {web: [attacker.example.com]}\n# ""#
    ));
    let paths: Vec<_> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["env/clear/A\": x\nregistry:", "proxy/host"]);

    let mut vars = sample("worker");
    vars["cmd"] = json!("sidekiq\ninjected: true");
    let c = builtin("worker").unwrap().render(&vars).unwrap().config;
    assert_eq!(c.roles[0].cmd, ["sidekiq", "injected:", "true"]);
}

fn refused(source: &str) -> String {
    match check(source, None) {
        Err(TemplateError::NotAllowed(message)) => {
            // A row stored before a rule existed is checked again when it is rendered.
            assert_eq!(
                render(source, &json!({"x": "v", "a": "v"})).unwrap_err(),
                TemplateError::NotAllowed(message.clone()),
                "{source}"
            );
            message
        }
        other => panic!("{source}: expected a refusal, got {other:?}"),
    }
}

#[test]
fn raw_output_is_refused() {
    for source in [
        "service: {{{x}}}",
        "service: {{&x}}",
        "service: {{~{x}~}}",
        "service: {{ &x}}",
        "service: {{ {x} }}",
        "service: {{~ & x ~}}",
    ] {
        assert!(refused(source).contains("raw output"), "{source}");
    }
    assert!(matches!(
        check("service: {{#if}}", None),
        Err(TemplateError::Syntax(_))
    ));
    assert!(check("service: {{x}}", None).is_ok());
}

#[test]
fn partials_inline_partials_and_decorators_are_refused() {
    // This one overflowed the stack of the thread rendering it, aborting the process.
    let recursive = r#"{{#*inline "a"}}{{> a}}{{/inline}}{{> a}}"#;
    assert_eq!(
        refused(recursive),
        "line 1, column 1: inline partials ({{#*inline}}) are not allowed"
    );
    for (source, construct) in [
        ("service: {{> a}}", "partials ({{> name}})"),
        ("service: {{#> a}}x{{/a}}", "partials ({{> name}})"),
        (
            "x: 1\n{{#if x}}\n  {{> (x)}}\n{{/if}}",
            "partials ({{> name}})",
        ),
        (r#"{{*inline "a"}}"#, "inline partials"),
        ("{{*log x}}", "decorators ({{* name}})"),
        ("{{#*log x}}y{{/log}}", "decorators ({{* name}})"),
    ] {
        let message = refused(source);
        assert!(message.contains(construct), "{source}: {message}");
    }
    assert!(refused("x: 1\n{{#if x}}\n  {{> a}}\n{{/if}}").starts_with("line 3,"));
}

#[test]
fn size_tags_and_nesting_are_capped() {
    let big = format!("service: x\n#{}\n", "a".repeat(64 * 1024));
    assert_eq!(
        refused(&big),
        format!("is {} bytes, more than the limit of 64 KiB", big.len())
    );
    let tags = "{{x}}".repeat(1_001);
    assert_eq!(
        refused(&tags),
        "has 1001 {{…}} tags, more than the limit of 1000"
    );
    let nested = |n: usize| format!("{}x{}", "{{#if x}}".repeat(n), "{{/if}}".repeat(n));
    assert!(check(&nested(24), None).is_ok());
    assert!(refused(&nested(25)).contains("nest deeper than 24 levels"));
    let sub = |n: usize| format!("{{{{concat {}x{}}}}}", "(concat ".repeat(n), ")".repeat(n));
    assert!(check(&sub(24), None).is_ok());
    assert!(refused(&sub(25)).contains("nest deeper than 24 levels"));
}

fn items(n: usize) -> Value {
    Value::Array((0..n).map(|i| json!(i)).collect())
}

#[test]
fn loops_stop_at_the_step_budget_even_when_silent() {
    // A million iterations writing nothing: stopped after at most 200,000 steps.
    let source = "{{#each a}}{{#each ../a}}{{/each}}{{/each}}";
    assert_eq!(
        render(source, &json!({"a": items(1_000)})).unwrap_err(),
        TemplateError::Limit("more than 200000 template steps (loops over large lists?)".into())
    );
    // Each iteration of an empty body costs one step.
    let limits = Limits {
        steps: 50,
        ..Limits::default()
    };
    let stopped = |n: usize| {
        matches!(
            render_within("{{#each a}}{{/each}}", &json!({"a": items(n)}), limits),
            Err(TemplateError::Limit(_))
        )
    };
    assert!(!stopped(50));
    assert!(stopped(51));
}

#[test]
fn output_and_built_values_are_capped() {
    let limits = Limits {
        output_bytes: 1024,
        ..Limits::default()
    };
    let limit = TemplateError::Limit("the rendered config would exceed 1 KiB".into());
    let vars = json!({"a": items(100), "x": "0123456789"});
    let source = "service: x\n{{#each a}}# {{../x}}\n{{/each}}";
    assert_eq!(render_within(source, &vars, limits).unwrap_err(), limit);
    let source = "{{#if (concat x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x x)}}{{/if}}";
    assert_eq!(render_within(source, &vars, limits).unwrap_err(), limit);
}

#[test]
fn renders_stop_at_the_deadline() {
    let limits = Limits {
        time: std::time::Duration::ZERO,
        ..Limits::default()
    };
    assert_eq!(
        render_within("{{#each a}}{{/each}}", &json!({"a": items(1)}), limits).unwrap_err(),
        TemplateError::Limit("rendering took longer than 0ns".into())
    );
}

#[test]
fn custom_templates_render_with_given_variables() {
    let source = "service: {{name}}\nimage: {{concat \"acme/\" name \":v1\"}}\nservers:\n{{#each hosts}}\n  - {{this}}\n{{/each}}\n";
    let rendered = render(source, &json!({"name": "shop", "hosts": ["a", "b"]})).unwrap();
    assert_eq!(
        rendered.yaml,
        "service: \"shop\"\nimage: \"acme/shop:v1\"\nservers:\n  - \"a\"\n  - \"b\"\n"
    );
    assert_eq!(rendered.config.image.repository, "acme/shop");
    assert_eq!(
        render(source, &json!([1])).unwrap_err(),
        TemplateError::VariablesNotObject
    );
}

#[test]
fn seed_examples_plan() {
    for yaml in crate::kamal::config::tests::SEEDS {
        plans(&parse_yaml(yaml).unwrap());
    }
}
