//! The route table: every `google.api.http` binding (rule and `additional_bindings`) of
//! WorkflowService and OperatorService whose path starts with `/api/v1/`, read from the
//! descriptors at start. The unprefixed duplicates (`/namespaces/…`, `/cluster-info`,
//! `/system-info`, which Temporal Cloud serves) are left out on purpose: on this port the Web
//! UI owns those paths. Matching picks, among the bindings of the request's method whose
//! template fits the path, the most specific one; a path some other method fits is "Method Not
//! Allowed", no fit at all "Not Found" (grpc-gateway's answers).

use http::Method;
use prost_reflect::{DynamicMessage, MethodDescriptor, Value};

use crate::descriptors::{pool, services};
use crate::template::{Binding, Template};

/// Where the request body goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyTarget {
    /// No body: the rest of the request comes from the query string.
    None,
    /// `body: "*"`: the whole request message.
    Whole,
    /// `body: "field"`: that field; the query string fills the others.
    Field(String),
}

#[derive(Debug, Clone)]
pub struct Route {
    pub http_method: Method,
    pub template: Template,
    pub body: BodyTarget,
    pub method: MethodDescriptor,
    /// `/temporal.api.workflowservice.v1.WorkflowService/StartWorkflowExecution`.
    pub grpc_path: String,
}

#[derive(Debug)]
pub enum Miss {
    NotFound,
    MethodNotAllowed,
}

#[derive(Debug)]
pub struct RouteTable {
    routes: Vec<Route>,
}

impl RouteTable {
    /// Every `/api/v1/` binding of the served services. Templates that do not parse are
    /// skipped with a warning (none do in Temporal's protos; a unit test checks).
    pub fn load() -> Self {
        let mut routes = Vec::new();
        let Some(ext) = pool().get_extension_by_name("google.api.http") else {
            tracing::warn!("descriptor set lacks google.api.http: no HTTP API");
            return Self { routes };
        };
        for service in services() {
            for method in service.methods() {
                if method.is_client_streaming() || method.is_server_streaming() {
                    continue;
                }
                let options = method.options();
                if !options.has_extension(&ext) {
                    continue;
                }
                let rule = options.get_extension(&ext);
                let Some(rule) = rule.as_message() else {
                    continue;
                };
                let mut rules = vec![rule.clone()];
                if let Some(extra) = rule
                    .get_field_by_name("additional_bindings")
                    .and_then(|v| v.as_list().map(<[Value]>::to_vec))
                {
                    rules.extend(extra.iter().filter_map(|v| v.as_message().cloned()));
                }
                for rule in rules {
                    if let Some(route) = binding(&method, &rule) {
                        routes.push(route);
                    }
                }
            }
        }
        Self { routes }
    }

    #[cfg(test)]
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The route for `method` and the decoded path segments, with its variables' values.
    pub fn find(&self, method: &Method, segments: &[&str]) -> Result<(&Route, Vec<Binding>), Miss> {
        let mut best: Option<(&Route, Vec<Binding>)> = None;
        let mut other_method = false;
        for route in &self.routes {
            let Some(bindings) = route.template.matches(segments) else {
                continue;
            };
            if route.http_method != method {
                other_method = true;
                continue;
            }
            let better = match &best {
                None => true,
                Some((b, _)) => route.template.specificity() > b.template.specificity(),
            };
            if better {
                best = Some((route, bindings));
            }
        }
        match best {
            Some(found) => Ok(found),
            None if other_method => Err(Miss::MethodNotAllowed),
            None => Err(Miss::NotFound),
        }
    }
}

fn binding(method: &MethodDescriptor, rule: &DynamicMessage) -> Option<Route> {
    let text = |name: &str| {
        rule.get_field_by_name(name)
            .and_then(|v| v.as_str().map(str::to_string))
            .filter(|s| !s.is_empty())
    };
    let (http_method, path) = [
        (Method::GET, "get"),
        (Method::PUT, "put"),
        (Method::POST, "post"),
        (Method::DELETE, "delete"),
        (Method::PATCH, "patch"),
    ]
    .into_iter()
    .find_map(|(m, field)| text(field).map(|p| (m, p)))?;
    if !path.starts_with("/api/v1/") {
        return None;
    }
    let template = match Template::parse(&path) {
        Ok(t) => t,
        Err(e) => {
            tracing::warn!(error = %e, method = method.full_name(), "skipping HTTP binding");
            return None;
        }
    };
    let body = match text("body").as_deref() {
        None => BodyTarget::None,
        Some("*") => BodyTarget::Whole,
        Some(field) => BodyTarget::Field(field.to_string()),
    };
    Some(Route {
        http_method,
        template,
        body,
        grpc_path: format!("/{}/{}", method.parent_service().full_name(), method.name()),
        method: method.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(p: &str) -> Vec<&str> {
        p.trim_start_matches('/').split('/').collect()
    }

    #[test]
    fn the_table_holds_only_api_v1_bindings_of_both_services() {
        let t = RouteTable::load();
        assert!(t.routes().len() > 60, "{} routes", t.routes().len());
        assert!(t
            .routes()
            .iter()
            .all(|r| r.template.has_prefix(&["api", "v1"])));
        let (r, b) = t
            .find(
                &Method::GET,
                &split("/api/v1/namespaces/default/workflows/w/history"),
            )
            .unwrap();
        assert_eq!(
            r.grpc_path,
            "/temporal.api.workflowservice.v1.WorkflowService/GetWorkflowExecutionHistory"
        );
        assert_eq!(b[1].field, ["execution", "workflow_id"]);
        let (r, _) = t
            .find(
                &Method::POST,
                &split("/api/v1/namespaces/default/workflows/w"),
            )
            .unwrap();
        assert!(r.grpc_path.ends_with("/StartWorkflowExecution"));
        assert_eq!(r.body, BodyTarget::Whole);
        let (r, _) = t
            .find(
                &Method::GET,
                &split("/api/v1/namespaces/default/search-attributes"),
            )
            .unwrap();
        assert_eq!(
            r.grpc_path,
            "/temporal.api.operatorservice.v1.OperatorService/ListSearchAttributes"
        );
        assert!(matches!(
            t.find(&Method::PUT, &split("/api/v1/namespaces/default/workflows")),
            Err(Miss::MethodNotAllowed)
        ));
        assert!(matches!(
            t.find(&Method::GET, &split("/api/v1/nope")),
            Err(Miss::NotFound)
        ));
        assert!(matches!(
            t.find(&Method::GET, &split("/namespaces/default/workflows")),
            Err(Miss::NotFound)
        ));
    }

    /// No binding shadows another: a path made from each template reaches that method.
    #[test]
    fn every_binding_is_reachable() {
        let t = RouteTable::load();
        for r in t.routes() {
            let path = r.template.sample();
            let segments: Vec<&str> = path.iter().map(String::as_str).collect();
            let (found, _) = t.find(&r.http_method, &segments).unwrap();
            assert_eq!(found.grpc_path, r.grpc_path, "{} {path:?}", r.http_method);
        }
    }
}
