//! GeoReport v2 answers in either of its formats, from one document: a JSON value, and the
//! same value as XML with the spec's element names (a list's items are named for the list:
//! `services` → `service`, `service_requests` → `request`, …).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Json,
    Xml,
}

impl Format {
    /// Splits `services.json` into `services` and its format.
    pub fn split(file: &str) -> Option<(&str, Format)> {
        let (name, ext) = file.rsplit_once('.')?;
        match ext {
            "json" => Some((name, Format::Json)),
            "xml" => Some((name, Format::Xml)),
            _ => None,
        }
    }
}

/// The XML element of an item in a list of this name.
fn item_name(list: &str) -> &str {
    match list {
        "services" => "service",
        "service_requests" => "request",
        "endpoints" => "endpoint",
        "formats" => "format",
        "attributes" => "attribute",
        "values" => "value",
        "errors" => "error",
        _ => "item",
    }
}

fn write_xml(out: &mut String, name: &str, value: &Value) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    match value {
        Value::Null => {}
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => out.push_str(&quick_xml::escape::escape(s.as_str())),
        Value::Array(items) => {
            let item = item_name(name);
            for v in items {
                write_xml(out, item, v);
            }
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                write_xml(out, k, v);
            }
        }
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// `root` names the document's root element in XML (`services`, `service_requests`,
/// `discovery`, `service_definition`, `errors`).
pub fn render(status: StatusCode, format: Format, root: &str, doc: &Value) -> Response {
    match format {
        Format::Json => (status, axum::Json(doc)).into_response(),
        Format::Xml => {
            let mut out = String::from(r#"<?xml version="1.0" encoding="utf-8"?>"#);
            write_xml(&mut out, root, doc);
            (
                status,
                [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                out,
            )
                .into_response()
        }
    }
}

/// The spec's error document: a list of `{code, description}`, with the HTTP status.
pub fn error(status: StatusCode, format: Format, description: impl Into<String>) -> Response {
    let doc = serde_json::json!([{ "code": status.as_u16(), "description": description.into() }]);
    render(status, format, "errors", &doc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_take_their_items_names_and_text_is_escaped() {
        let mut out = String::new();
        let doc = serde_json::json!([{"service_code": "repair", "description": "a < b & \"c\""}]);
        write_xml(&mut out, "services", &doc);
        assert_eq!(
            out,
            "<services><service><description>a &lt; b &amp; &quot;c&quot;</description>\
             <service_code>repair</service_code></service></services>"
        );
    }
}
