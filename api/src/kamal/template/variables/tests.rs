use serde_json::json;

use super::*;

fn compiled(source: &str) -> Template {
    Template::compile(source).unwrap()
}

fn declarations(list: Value) -> Vec<Declaration> {
    serde_json::from_value(list).unwrap()
}

fn at(problems: &[Problem]) -> Vec<&str> {
    problems.iter().map(|p| p.at.as_str()).collect()
}

#[test]
fn references_are_the_top_level_names_with_their_strongest_use() {
    let source =
        "a: {{name}}\n{{#each hosts}}- {{this}} {{../domain}} {{@root.port}} {{item}}\n{{/each}}\
                  {{#each env}}{{@key}}: {{this}}{{/each}}\
                  {{#if tls}}x{{else}}{{fallback}}{{/if}}\
                  {{concat prefix (concat \"-\" suffix)}}{{#with nested}}{{inner}}{{/with}}";
    let found = references(&compiled(source));
    let expected = [
        ("domain", Usage::Value),
        ("env", Usage::EachWithKey),
        ("fallback", Usage::Value),
        ("hosts", Usage::Each),
        ("name", Usage::Value),
        ("nested", Usage::Value),
        ("port", Usage::Value),
        ("prefix", Usage::Value),
        ("suffix", Usage::Value),
        ("tls", Usage::Condition),
    ];
    assert_eq!(
        found,
        expected
            .into_iter()
            .map(|(n, u)| (n.to_string(), u))
            .collect::<BTreeMap<_, _>>()
    );
}

#[test]
fn inferred_variables_are_required_and_typed_by_use() {
    let inferred = infer(&compiled(
        "{{name}}{{#each hosts}}{{this}}{{/each}}{{#each env}}{{@key}}{{/each}}{{#if tls}}{{/if}}",
    ));
    let kinds: Vec<(&str, VariableType, bool)> = inferred
        .iter()
        .map(|v| (v.name.as_str(), v.kind, v.required))
        .collect();
    assert_eq!(
        kinds,
        [
            ("env", VariableType::Map, true),
            ("hosts", VariableType::List, true),
            ("name", VariableType::String, true),
            ("tls", VariableType::Boolean, true),
        ]
    );
}

#[test]
fn types_accept_only_their_values() {
    use VariableType::*;
    let cases = [
        (String, json!("x"), json!(1)),
        (Integer, json!(80), json!("80")),
        (Integer, json!(-1), json!(1.5)),
        (Boolean, json!(false), json!("false")),
        (List, json!(["a", 1, true]), json!([{"a": 1}])),
        (Map, json!({"A": "b", "N": 2}), json!({"A": ["b"]})),
        (Host, json!("web-1"), json!(" ")),
        (HostList, json!(["web-1", "web-2"]), json!(["web-1", ""])),
    ];
    for (kind, good, bad) in cases {
        assert!(kind.accepts(&good), "{kind:?} {good}");
        assert!(!kind.accepts(&bad), "{kind:?} {bad}");
    }
}

#[test]
fn declarations_are_checked_each_at_its_path() {
    let problems = declare(&declarations(json!([
        {"name": "ok", "type": "string"},
        {"name": "ok", "type": "string"},
        {"name": "9lives", "type": "string"},
        {"name": "port", "type": "integer", "default": "80"},
        {"name": "DB_PASSWORD", "type": "string", "secret": true, "default": "x"},
        {"name": "lower_secret", "type": "integer", "secret": true},
        {"name": "both", "type": "string", "required": true, "default": "x"},
        {"name": "neither", "type": "string", "required": false},
        {"name": "OPTIONAL_SECRET", "type": "string", "secret": true, "required": false},
    ])))
    .unwrap_err();
    assert_eq!(
        at(&problems),
        [
            "1/name",
            "2/name",
            "3/default",
            "4/default",
            "5/type",
            "5/name",
            "6/required",
            "7/required",
            "8/required"
        ]
    );
}

#[test]
fn declarations_fill_required_from_the_default() {
    let declared = declare(&declarations(json!([
        {"name": "a", "type": "string"},
        {"name": "b", "type": "boolean", "default": true, "description": "B"},
        {"name": "C", "type": "string", "secret": true},
    ])))
    .unwrap();
    let required: Vec<bool> = declared.iter().map(|v| v.required).collect();
    assert_eq!(required, [true, false, true]);
    assert_eq!(declared[1].default, Some(json!(true)));
}

#[test]
fn binding_names_every_unknown_mistyped_missing_and_secret_value() {
    let declared = declare(&declarations(json!([
        {"name": "name", "type": "string"},
        {"name": "port", "type": "integer", "default": 80},
        {"name": "hosts", "type": "host_list"},
        {"name": "TOKEN", "type": "string", "secret": true},
    ])))
    .unwrap();
    let given = json!({"port": "8080", "colour": "blue", "TOKEN": "s3cret"});
    let problems = bind(&declared, given.as_object().unwrap()).unwrap_err();
    assert_eq!(at(&problems), ["TOKEN", "colour", "port", "name", "hosts"]);
    assert!(problems
        .iter()
        .all(|p| !p.message.contains("s3cret") && !p.message.contains("8080")));
    assert!(
        problems[1]
            .message
            .contains("its variables: name, port, hosts"),
        "{problems:?}"
    );
    let given = json!({"name": "shop", "hosts": ["web-1"]});
    let bound = bind(&declared, given.as_object().unwrap()).unwrap();
    assert_eq!(
        Value::Object(bound),
        json!({"name": "shop", "hosts": ["web-1"], "port": 80})
    );
}

#[test]
fn declarations_must_match_the_source() {
    let declared = declare(&declarations(json!([
        {"name": "name", "type": "string"},
        {"name": "unused", "type": "string"},
        {"name": "TOKEN", "type": "string", "secret": true},
    ])))
    .unwrap();
    let used = references(&compiled("{{name}} {{TOKEN}} {{undeclared}}"));
    let problems = match_source(&declared, &used);
    assert_eq!(at(&problems), ["2/secret", "", "1/name"]);
    assert!(problems[1].message.contains("\"undeclared\""));
}
