//! The Lambda Invoke API target: `POST /2015-03-31/functions/<name>/invocations`, SigV4-signed
//! for the `lambda` service, at a configured endpoint, so that functions already running under
//! LocalStack, `sam local start-lambda` or serverless-offline (or in AWS) run unchanged.

use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use reqwest::{Client, Url};
use tessera_core::{Clock, UtcFields};

use crate::router::{read_answer, service_error, transport, Answer};
use crate::{ConfigError, InvokeError};

/// One Lambda Invoke API endpoint.
pub(crate) struct Lambda {
    client: Client,
    endpoint: Url,
    access_key_id: String,
    secret_access_key: String,
    region: String,
}

/// A function as the Invoke API names it: the function's name (the emulators know functions
/// by name only) and the version or alias an ARN may end with.
struct Function<'a> {
    name: &'a str,
    qualifier: Option<&'a str>,
    region: Option<&'a str>,
}

impl<'a> Function<'a> {
    /// `arn:aws:lambda:<region>:<account>:function:<name>[:<qualifier>]`, or a bare name.
    fn of(arn: &'a str) -> Self {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() >= 7 && parts[0] == "arn" && parts[2] == "lambda" && parts[5] == "function" {
            return Self {
                name: parts[6],
                qualifier: parts.get(7).copied(),
                region: Some(parts[3]).filter(|r| !r.is_empty()),
            };
        }
        Self {
            name: arn,
            qualifier: None,
            region: None,
        }
    }
}

impl Lambda {
    pub(crate) fn new(
        client: Client,
        endpoint: &str,
        access_key_id: Option<&str>,
        secret_access_key: Option<&str>,
        region: Option<&str>,
    ) -> Result<Self, ConfigError> {
        let endpoint: Url = endpoint
            .parse()
            .map_err(|_| ConfigError("lambda_endpoint is not a URL".into()))?;
        if !matches!(endpoint.scheme(), "http" | "https") || endpoint.host_str().is_none() {
            return Err(ConfigError(
                "lambda_endpoint must be an http or https URL".into(),
            ));
        }
        if access_key_id.is_some() != secret_access_key.is_some() {
            return Err(ConfigError(
                "access_key_id and secret_access_key go together".into(),
            ));
        }
        Ok(Self {
            client,
            endpoint,
            // The emulators accept any credentials; these say where the calls come from.
            access_key_id: access_key_id.unwrap_or("tessera").to_owned(),
            secret_access_key: secret_access_key.unwrap_or("tessera").to_owned(),
            region: region.unwrap_or("us-east-1").to_owned(),
        })
    }

    pub(crate) fn describe(&self) -> String {
        format!("lambda {}", self.endpoint.as_str().trim_end_matches('/'))
    }

    pub(crate) async fn call(
        &self,
        arn: &str,
        body: Vec<u8>,
        timeout: Duration,
        clock: &dyn Clock,
    ) -> Result<serde_json::Value, InvokeError> {
        let function = Function::of(arn);
        if function.name.is_empty()
            || !function
                .name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(InvokeError::Invocation {
                error_type: "ResourceNotFoundException".into(),
                detail: "the function name is not one Lambda accepts".into(),
            });
        }
        let base = self.endpoint.path().trim_end_matches('/');
        let path = format!("{base}/2015-03-31/functions/{}/invocations", function.name);
        let query = function
            .qualifier
            .map(|q| format!("Qualifier={}", encode(q)))
            .unwrap_or_default();
        let mut url = self.endpoint.clone();
        url.set_path(&path);
        url.set_query(Some(&query).filter(|q| !q.is_empty()).map(String::as_str));

        let host = match (self.endpoint.host_str(), self.endpoint.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => return Err(service_error("no host")),
        };
        let at = UtcFields::of(clock.now());
        let amz_date = format!(
            "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
            at.year, at.month, at.day, at.hour, at.minute, at.second
        );
        let mut headers = HeaderMap::new();
        let value = |text: &str| {
            HeaderValue::from_str(text).map_err(|_| service_error("unencodable header"))
        };
        headers.insert(HOST, value(&host)?);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert("x-amz-date", value(&amz_date)?);
        headers.insert(
            "x-amz-invocation-type",
            HeaderValue::from_static("RequestResponse"),
        );
        let signed = tessera_sigv4::Request {
            method: "POST",
            path: &path,
            query: &query,
            headers: &headers,
            body: &body,
        };
        let authorization = tessera_sigv4::authorization_header(
            &signed,
            &self.access_key_id,
            &self.secret_access_key,
            function.region.unwrap_or(&self.region),
            "lambda",
            &[
                "host",
                "x-amz-date",
                "x-amz-invocation-type",
                "content-type",
            ],
        )
        .map_err(|error| service_error(format!("signing: {error}")))?;
        let mut authorization = value(&authorization)?;
        authorization.set_sensitive(true);
        headers.insert(AUTHORIZATION, authorization);
        headers.remove(HOST);
        let response = self
            .client
            .post(url)
            .timeout(timeout)
            .headers(headers)
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = response.status();
        // A function that failed answers 200 with `X-Amz-Function-Error` (`Unhandled` from
        // AWS and every emulator) and Lambda's error object.
        let function_error = response
            .headers()
            .get("x-amz-function-error")
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(str::to_owned);
        let error_type = response
            .headers()
            .get("x-amzn-errortype")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(':').next().unwrap_or(v).to_owned());
        let answer = read_answer(response).await?;
        if !status.is_success() {
            return Err(InvokeError::Invocation {
                detail: format!("the Lambda API answered HTTP {}", status.as_u16()),
                error_type: error_type.unwrap_or_else(|| "ServiceException".into()),
            });
        }
        if let Some(kind) = function_error {
            let message = match &answer {
                Answer::Json(value) => value
                    .get("errorMessage")
                    .and_then(|m| m.as_str())
                    .map(str::to_owned),
                Answer::Other => None,
            };
            return Err(InvokeError::Function(message.unwrap_or(kind)));
        }
        answer.into_event()
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
