//! Text or JSON output, chosen once by `--json`.

use serde_json::{Map, Value};

/// Where results and errors go.
pub(crate) struct Output {
    json: bool,
}

/// A failed command: what to print on stderr.
pub(crate) type CliError = String;

impl Output {
    pub(crate) fn new(json: bool) -> Self {
        Self { json }
    }

    /// Whether results are JSON lines.
    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// Prints one result: a JSON object, or `key: value` lines.
    pub(crate) fn record(&self, fields: &[(&str, Value)]) {
        if self.json {
            let obj: Map<String, Value> = fields
                .iter()
                .map(|(k, v)| ((*k).to_string(), v.clone()))
                .collect();
            println!("{}", Value::Object(obj));
        } else {
            for (k, v) in fields {
                match v {
                    Value::String(s) => println!("{k}: {s}"),
                    other => println!("{k}: {other}"),
                }
            }
        }
    }

    pub(crate) fn error(&self, e: &str) {
        if self.json {
            eprintln!("{}", serde_json::json!({ "error": e }));
        } else {
            eprintln!("error: {e}");
        }
    }
}
